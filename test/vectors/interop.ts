// Hand-written wire vectors for the bits tshark 4.0 cannot show (Map-Request N, I, L, D;
// Map-Register E, T, merge; ECM S, D), from the RFC figures and from lispers.net's encoder.
// Each hex string is typed from the cited figure or source line, NOT produced by livmap's
// encoder: the tests compare livmap (and tshark, for what it can see) against these bytes.

/** Bytes of a hex string with spaces. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

export interface RequestVector {
  readonly name: string;
  /** Where the bytes come from. */
  readonly source: string;
  readonly bytes: Buffer;
  /** The bits as the cited text defines them. */
  readonly expect: {
    readonly n: boolean;
    readonly i: boolean;
    readonly l: boolean;
    readonly d: boolean;
    readonly xtrId?: string;
    readonly siteId?: string;
    readonly nonceBytes: string;
  };
}

const XTR_ID = '0102030405060708090a0b0c0d0e0f10';

export const REQUEST_VECTORS: readonly RequestVector[] = [
  {
    name: 'lispers.net subscription',
    // farinacci/lispers.net lisp/lisp.py, lisp_map_request.encode(): the first long is packed
    // before `self.xtr_id_present = True` is set for subscribe_bit, so the header I bit stays
    // clear; the EID record's first byte is `subscribe = 0x80`; encode_xtr_id() appends the
    // 128-bit xTR-ID (two byte-swapped 64-bit halves = big-endian on the wire) with no site-ID;
    // the nonce is packed with struct "Q" (host order: 0x1122334455667788 -> 88 77 .. 11).
    // The hex is issue #16's, for 10.16.50.50/32 from ITR-RLOC 10.99.0.6, source EID 172.16.30.10.
    source: 'lispers.net lisp.py lisp_map_request.encode / encode_xtr_id (issue #16 hex)',
    bytes: hex(`10 00 00 01  88 77 66 55 44 33 22 11  0001 ac101e0a  0001 0a630006  80 20 0001 0a103232  ${XTR_ID}`),
    expect: { n: true, i: false, l: false, d: false, xtrId: XTR_ID, nonceBytes: '8877665544332211' },
  },
  {
    name: 'RFC 9437 subscription',
    // RFC 9437 §5 Figure 1: |Type=1|A|M|P|S|p|s|R|I|Rsvd|L|D|IRC|Record Count|, I = 0x10 of the
    // second byte; each EID record starts |N|Reserved|EID mask-len|: N = 0x80; the 128-bit
    // xTR-ID and 64-bit Site-ID follow the records when I is set.
    source: 'RFC 9437 §5, Figure 1',
    bytes: hex(`10 10 00 01  01 02 03 04 05 06 07 08  0001 ac101e0a  0001 0a630006  80 20 0001 0a103232  ${XTR_ID}  a1a2a3a4a5a6a7a8`),
    expect: { n: true, i: true, l: false, d: false, xtrId: XTR_ID, siteId: 'a1a2a3a4a5a6a7a8', nonceBytes: '0102030405060708' },
  },
  {
    name: 'header bit 0x20 (RFC 9301 R, reserved) with no N in the record',
    // RFC 9301 §5.2: "R: This reserved and unassigned bit MUST be set to 0 on transmit and MUST
    // be ignored on receipt" (lispers.net sets it as its mobile-node flag, lisp.py 0x00200000).
    source: 'RFC 9301 §5.2 (R bit); lispers.net lisp.py mobile_node 0x00200000',
    bytes: hex('10 20 00 01  01 02 03 04 05 06 07 08  0001 ac101e0a  0001 0a630006  00 20 0001 0a103232'),
    expect: { n: false, i: false, l: false, d: false, nonceBytes: '0102030405060708' },
  },
  {
    name: 'L and D bits',
    // RFC 9301 §5.2: third byte = |Rsvd(1)|L|D|IRC(5)|: L = 0x40, D = 0x20.
    source: 'RFC 9301 §5.2 (L, D)',
    bytes: hex('10 00 60 01  01 02 03 04 05 06 07 08  0001 ac101e0a  0001 0a630006  00 20 0001 0a103232'),
    expect: { n: false, i: false, l: true, d: true, nonceBytes: '0102030405060708' },
  },
];

export interface RegisterVector {
  readonly name: string;
  readonly source: string;
  /** The first 4 bytes of a Map-Register: the flags tshark shows only as a reserved field. */
  readonly header: string;
  readonly expect: { readonly e: boolean; readonly t: boolean; readonly merge: boolean; readonly m: boolean };
}

// RFC 9301 §5.6: |Type=3|P|S|I|Reserved(8)|E|T|a|R|M|Record Count|: third byte bits
// E 0x10 (after 3 reserved bits), T 0x08, a (merge) 0x04, R 0x02, M 0x01.
export const REGISTER_VECTORS: readonly RegisterVector[] = [
  { name: 'E', source: 'RFC 9301 §5.6 (E)', header: '30 00 10 01', expect: { e: true, t: false, merge: false, m: false } },
  { name: 'T', source: 'RFC 9301 §5.6 (T)', header: '30 00 08 01', expect: { e: false, t: true, merge: false, m: false } },
  { name: 'merge', source: 'RFC 9301 §5.6 (a: merge)', header: '30 00 04 01', expect: { e: false, t: false, merge: true, m: false } },
  { name: 'M', source: 'RFC 9301 §5.6 (M)', header: '30 00 01 01', expect: { e: false, t: false, merge: false, m: true } },
];

/** RFC 9301 §5.8: |Type=8|S|D|E|M| Reserved |: S 0x08, D 0x04, E 0x02, M 0x01 of the first byte. */
export const ECM_VECTORS: ReadonlyArray<{ readonly name: string; readonly first: number; readonly expect: { s: boolean; d: boolean; e: boolean; m: boolean } }> = [
  { name: 'S', first: 0x88, expect: { s: true, d: false, e: false, m: false } },
  { name: 'D', first: 0x84, expect: { s: false, d: true, e: false, m: false } },
  { name: 'E', first: 0x82, expect: { s: false, d: false, e: true, m: false } },
  { name: 'M', first: 0x81, expect: { s: false, d: false, e: false, m: true } },
];
