// fast-check arbitraries for every LISP control message, generating only valid, canonical
// messages: decode(encode(m)) deep-equals m. Canonical means: IP/MAC text as decode formats it,
// optional wire details present only when non-default, no lcaf-iid inside an EidPrefix, and
// opaque LCAFs never of the structured types 1 and 2.
import fc from 'fast-check';
import { formatIpv4, formatIpv6, formatMac } from '../../mapserver/codec/ip.js';
import type {
  Address,
  Auth,
  EidPrefix,
  EncapsulatedControl,
  InnerHeader,
  LispMessage,
  Locator,
  MapNotify,
  MapRegister,
  MapReply,
  MapRequest,
  MappingRecord,
} from '../../mapserver/codec/types.js';

/** fc.record with ordinary prototypes, so deepStrictEqual against decoded objects works. */
export function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

export const u8 = fc.integer({ min: 0, max: 255 });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });

export const arbIpv4Text = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b));
/** Mixes random IPv6 addresses with zero-heavy ones so RFC 5952 compression is exercised. */
export const arbIpv6Text = fc
  .array(fc.oneof(fc.constant(0), u16), { minLength: 8, maxLength: 8 })
  .map((groups) => {
    const b = new Uint8Array(16);
    groups.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 0xff; });
    return formatIpv6(b);
  });
export const arbMacText = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));

export const arbIpv4Address: fc.Arbitrary<Address> = arbIpv4Text.map((ip) => ({ afi: 'ipv4', ip }) as const);
export const arbIpv6Address: fc.Arbitrary<Address> = arbIpv6Text.map((ip) => ({ afi: 'ipv6', ip }) as const);
export const arbMacAddress: fc.Arbitrary<Address> = arbMacText.map((mac) => ({ afi: 'mac', mac }) as const);
export const arbNoAddress: fc.Arbitrary<Address> = fc.constant({ afi: 'none' } as const);

/** AFI 0, IPv4, IPv6 and MAC: the addresses that are not LCAFs. */
export const arbPlainAddress: fc.Arbitrary<Address> = fc.oneof(arbIpv4Address, arbIpv6Address, arbMacAddress, arbNoAddress);

export const arbIidAddress: fc.Arbitrary<Address> = fc
  .record({ iid: u32, maskLen: u8, flags: u8, address: arbPlainAddress })
  .map((r) => ({ afi: 'lcaf-iid', ...r }) as const);

export const arbAfiListAddress: fc.Arbitrary<Address> = fc
  .record({ flags: u8, addresses: fc.array(fc.oneof(arbPlainAddress, arbIidAddress), { maxLength: 4 }) })
  .map((r) => ({ afi: 'lcaf-afi-list', ...r }) as const);

export const arbOpaqueLcafAddress: fc.Arbitrary<Address> = fc
  .record({
    lcafType: u8.filter((v) => v !== 1 && v !== 2),
    rsvd1: u8,
    flags: u8,
    rsvd2: u8,
    payload: fc.uint8Array({ maxLength: 24 }),
  })
  .map((r) => ({ afi: 'lcaf', ...r }) as const);

/** Any address: plain, Instance-ID, AFI-list and opaque LCAF. */
export const arbAddress: fc.Arbitrary<Address> = fc.oneof(
  { weight: 6, arbitrary: arbPlainAddress },
  { weight: 2, arbitrary: arbIidAddress },
  { weight: 1, arbitrary: arbAfiListAddress },
  { weight: 1, arbitrary: arbOpaqueLcafAddress },
);

/**
 * EID prefixes over IPv4 / IPv6 / MAC, IID 0 or a random non-zero 32-bit IID, whose IID mask-len
 * byte is sometimes not 32 (kept in `iidMaskLen`).
 */
export const arbEidPrefix: fc.Arbitrary<EidPrefix> = fc
  .tuple(
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff })),
    fc.oneof(
      fc.tuple(arbIpv4Address, fc.integer({ min: 0, max: 32 })),
      fc.tuple(arbIpv6Address, fc.integer({ min: 0, max: 128 })),
      fc.tuple(arbMacAddress, fc.integer({ min: 0, max: 48 })),
    ),
    fc.option(u8.filter((v) => v !== 32), { nil: undefined, freq: 4 }),
  )
  .map(([iid, [address, length], iidMaskLen]) => (iid !== 0 && iidMaskLen !== undefined ? { iid, address, length, iidMaskLen } : { iid, address, length }));

/** Locators with every weight and flag free and the RLOC drawn from `rloc`. */
export function arbLocatorWith(rloc: fc.Arbitrary<Address>): fc.Arbitrary<Locator> {
  return rec({
    priority: u8,
    weight: u8,
    mPriority: u8,
    mWeight: u8,
    local: fc.boolean(),
    probed: fc.boolean(),
    reachable: fc.boolean(),
    rloc,
  });
}

export const arbLocator: fc.Arbitrary<Locator> = arbLocatorWith(arbAddress);

export const arbMappingRecord: fc.Arbitrary<MappingRecord> = rec({
  eid: arbEidPrefix,
  ttl: u32,
  action: fc.integer({ min: 0, max: 7 }),
  authoritative: fc.boolean(),
  mapVersion: fc.integer({ min: 0, max: 0x0fff }),
  locators: fc.array(arbLocator, { maxLength: 4 }),
});

export const arbNonce = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const arbXtrId = fc.uint8Array({ minLength: 16, maxLength: 16 });
const arbSiteId = fc.uint8Array({ minLength: 8, maxLength: 8 });

export const arbMapRequest: fc.Arbitrary<MapRequest> = fc
  .record({
    authoritative: fc.boolean(),
    probe: fc.boolean(),
    smr: fc.boolean(),
    pitr: fc.boolean(),
    smrInvoked: fc.boolean(),
    notifyRequested: fc.boolean(),
    localXtr: fc.boolean(),
    dontMapReply: fc.boolean(),
    nonce: arbNonce,
    sourceEid: arbAddress,
    itrRlocs: fc.array(arbAddress, { minLength: 1, maxLength: 5 }),
    records: fc.array(arbEidPrefix, { maxLength: 4 }),
    mapReply: fc.option(arbMappingRecord, { nil: undefined }),
    xtr: fc.option(fc.tuple(arbXtrId, fc.option(arbSiteId, { nil: undefined })), { nil: undefined }),
  })
  .map(({ mapReply, xtr, notifyRequested, ...rest }) => {
    // N travels in the EID records (RFC 9437 §5): a request without records cannot carry it,
    // and an xTR-ID without site-ID (lispers.net's layout) comes only with N.
    const subscribe = notifyRequested && rest.records.length > 0;
    const m: MapRequest = { type: 'map-request', ...rest, notifyRequested: subscribe, mapDataPresent: mapReply !== undefined };
    const siteId = xtr && (xtr[1] ?? (subscribe ? undefined : new Uint8Array(8)));
    return {
      ...m,
      ...(mapReply ? { mapReply } : {}),
      ...(xtr ? { xtrId: xtr[0] } : {}),
      ...(siteId ? { siteId } : {}),
    };
  });

export const arbMapReply: fc.Arbitrary<MapReply> = rec({
  type: fc.constant('map-reply' as const),
  probe: fc.boolean(),
  echoNonce: fc.boolean(),
  security: fc.boolean(),
  nonce: arbNonce,
  records: fc.array(arbMappingRecord, { maxLength: 4 }),
});

/** Key ID byte, algorithm none / HMAC-SHA-1 / HMAC-SHA-256, and auth data of the matching length. */
export const arbAuth: fc.Arbitrary<Auth> = fc
  .tuple(u8, fc.constantFrom(0, 1, 2))
  .chain(([keyId, algId]) => {
    const n = algId === 0 ? 0 : algId === 1 ? 20 : 32;
    return fc.uint8Array({ minLength: n, maxLength: n }).map((authData) => ({ keyId, algId, authData }));
  });

export const arbMapRegister: fc.Arbitrary<MapRegister> = fc
  .record({
    proxyReply: fc.boolean(),
    security: fc.boolean(),
    rtr: fc.boolean(),
    wantMapNotify: fc.boolean(),
    merge: fc.boolean(),
    eidNotify: fc.option(fc.constant(true), { nil: undefined }),
    ttlTimeout: fc.option(fc.constant(true), { nil: undefined }),
    nonce: arbNonce,
    auth: arbAuth,
    records: fc.array(arbMappingRecord, { maxLength: 4 }),
    xtr: fc.option(fc.tuple(arbXtrId, arbSiteId), { nil: undefined }),
  })
  .map(({ xtr, eidNotify, ttlTimeout, ...rest }) => ({
    type: 'map-register' as const,
    ...rest,
    xtrIdPresent: xtr !== undefined,
    ...(eidNotify ? { eidNotify } : {}),
    ...(ttlTimeout ? { ttlTimeout } : {}),
    ...(xtr ? { xtrId: xtr[0], siteId: xtr[1] } : {}),
  }));

export const arbMapNotify: fc.Arbitrary<MapNotify> = fc
  .record({
    type: fc.constantFrom('map-notify' as const, 'map-notify-ack' as const),
    rtr: fc.boolean(),
    nonce: arbNonce,
    auth: arbAuth,
    records: fc.array(arbMappingRecord, { maxLength: 4 }),
    xtr: fc.option(fc.tuple(arbXtrId, arbSiteId), { nil: undefined }),
  })
  .map(({ xtr, ...rest }) => ({
    ...rest,
    xtrIdPresent: xtr !== undefined,
    ...(xtr ? { xtrId: xtr[0], siteId: xtr[1] } : {}),
  }));

/** Keeps only the optional keys whose value is not undefined (decode omits defaults). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

export const arbInnerIpv4: fc.Arbitrary<InnerHeader> = fc
  .record({
    source: arbIpv4Text,
    destination: arbIpv4Text,
    sourcePort: u16,
    destinationPort: u16,
    ttl: u8,
    tos: opt(fc.integer({ min: 1, max: 255 })),
    ipId: opt(fc.integer({ min: 1, max: 0xffff })),
    ipFlags: opt(fc.constantFrom(2, 4, 6)),
    ipOptions: opt(fc.integer({ min: 1, max: 10 }).chain((n) => fc.uint8Array({ minLength: 4 * n, maxLength: 4 * n }))),
    udpChecksumZero: opt(fc.constant(true)),
  })
  .map((r) => defined({ version: 4 as const, ...r }));

export const arbInnerIpv6: fc.Arbitrary<InnerHeader> = fc
  .record({
    source: arbIpv6Text,
    destination: arbIpv6Text,
    sourcePort: u16,
    destinationPort: u16,
    ttl: u8,
    tos: opt(fc.integer({ min: 1, max: 255 })),
    flowLabel: opt(fc.integer({ min: 1, max: 0xfffff })),
  })
  .map((r) => defined({ version: 6 as const, ...r }));

/** Any message an ECM can carry (anything but an ECM). */
export const arbInnerMessage: fc.Arbitrary<Exclude<LispMessage, EncapsulatedControl>> = fc.oneof(
  { weight: 4, arbitrary: arbMapRequest },
  { weight: 2, arbitrary: arbMapRegister },
  { weight: 1, arbitrary: arbMapReply },
  { weight: 1, arbitrary: arbMapNotify },
);

export const arbEcm: fc.Arbitrary<EncapsulatedControl> = fc
  .record({
    security: fc.boolean(),
    ddt: fc.boolean(),
    toEtr: opt(fc.constant(true)),
    toMs: opt(fc.constant(true)),
    inner: fc.oneof(arbInnerIpv4, arbInnerIpv6),
    message: arbInnerMessage,
  })
  .map((r) => defined({ type: 'ecm' as const, ...r }));

export const arbLispMessage: fc.Arbitrary<LispMessage> = fc.oneof(arbMapRequest, arbMapReply, arbMapRegister, arbMapNotify, arbEcm);
