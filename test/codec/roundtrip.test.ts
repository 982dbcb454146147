// Round-trip properties over the arbitraries: decode(encode(m)) deep-equals m, encodingLength
// is exact, encode writes every byte, and signMessage/verifyMessage agree for both HMACs.
import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert';
import {
  decode,
  encode,
  encodeInto,
  encodingLength,
  immutableRecord,
  singleRecordVariants,
  signMessage,
  verifyMessage,
  type LispMessage,
} from '../../mapserver/codec/index.js';
import {
  arbAddress,
  arbEidPrefix,
  arbEcm,
  arbLispMessage,
  arbMapNotify,
  arbMapRegister,
  arbMapReply,
  arbMapRequest,
} from '../helpers/arbitraries.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 1000);

function roundTrip(m: LispMessage): void {
  const bytes = encode(m);
  if (bytes.length !== encodingLength(m)) throw new Error(`encodingLength ${encodingLength(m)} != ${bytes.length}`);
  deepStrictEqual(decode(bytes), m);
  // encode must write every byte: encoding over garbage gives the same bytes.
  const dirty = Buffer.alloc(bytes.length + 3, 0xa5);
  const end = encodeInto(m, dirty, 3);
  if (end !== bytes.length + 3 || !dirty.subarray(3).equals(bytes)) throw new Error('encodeInto left bytes unwritten');
}

const cases = [
  ['Map-Request', arbMapRequest],
  ['Map-Reply', arbMapReply],
  ['Map-Register', arbMapRegister],
  ['Map-Notify / Map-Notify-Ack', arbMapNotify],
  ['ECM', arbEcm],
  ['any message', arbLispMessage],
] as const;

for (const [name, arb] of cases) {
  t.test(`${name}: decode(encode(m)) deep-equals m`, async (t) => {
    fc.assert(fc.property(arb as fc.Arbitrary<LispMessage>, roundTrip), { numRuns: RUNS });
    t.pass(`${RUNS} runs`);
  });
}

t.test('addresses round-trip inside a Map-Request source EID', async (t) => {
  fc.assert(
    fc.property(arbAddress, (sourceEid) => {
      roundTrip({
        type: 'map-request', authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false,
        smrInvoked: false, notifyRequested: false, localXtr: false, dontMapReply: false, nonce: 1n,
        sourceEid, itrRlocs: [sourceEid], records: [],
      });
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('signMessage output verifies; any bit flip in it does not', async (t) => {
  const signed = fc.oneof(arbMapRegister, arbMapNotify).filter((m) => m.auth.algId !== 0);
  fc.assert(
    fc.property(signed, fc.nat(), (m, bit) => {
      const bytes = signMessage(m, 'secret');
      if (!verifyMessage(bytes, 'secret')) throw new Error('signed message does not verify');
      if (verifyMessage(bytes, 'other')) throw new Error('verifies with the wrong key');
      const flipped = Buffer.from(bytes);
      const i = bit % (flipped.length * 8);
      flipped[i >> 3]! ^= 1 << (i & 7);
      // A flip in the key field or auth length can make the message structurally invalid.
      try {
        if (verifyMessage(flipped, 'secret')) throw new Error(`bit ${i} flip still verifies`);
      } catch (e) {
        if (!(e instanceof Error) || e.name !== 'LispCodecError') throw e;
      }
      const decoded = decode(bytes);
      if (decoded.type !== m.type) throw new Error('type changed');
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

t.test('an immutable record encodes exactly like the same record built fresh, every time', async (t) => {
  let compared = 0;
  fc.assert(
    fc.property(arbMapReply, (reply) => {
      const expected = encode(reply);
      // Copies, so the arbitrary's own objects stay out of the cache.
      const cached = { ...reply, records: reply.records.map((r) => immutableRecord({ ...r })) };
      for (let i = 0; i < 2; i++) {
        const bytes = encode(cached);
        deepStrictEqual(bytes, expected);
        if (encodingLength(cached) !== expected.length) throw new Error('encodingLength differs');
        compared++;
      }
    }),
    { numRuns: RUNS },
  );
  t.equal(compared, 2 * RUNS, 'first (encoded into the cache) and second (copied from it) encodings compared');
});

t.test('single-record variants encode exactly like the full encoder, whatever the record', async (t) => {
  let compared = 0;
  fc.assert(
    fc.property(arbMapRequest, fc.array(arbEidPrefix, { minLength: 1, maxLength: 12 }), (request, records) => {
      const { records: _ignored, ...base } = request;
      const variant = singleRecordVariants(base);
      // Twice over: the first of each shape is encoded in full, later ones are patched copies.
      for (const record of [...records, ...records]) {
        let expected: Buffer | undefined;
        try {
          expected = encode({ ...base, records: [record] });
        } catch (err) {
          if (!(err instanceof Error) || err.name !== 'LispCodecError') throw err;
        }
        if (expected === undefined) continue;
        deepStrictEqual(variant(record), expected);
        compared++;
      }
    }),
    { numRuns: RUNS },
  );
  t.ok(compared > RUNS, `${compared} SMR-style encodings equal to full encodes`);
});
