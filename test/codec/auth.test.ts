// The codec computes HMACs itself (one-shot hashes over cached RFC 2104 pads); Node's createHmac
// (OpenSSL's HMAC) is the independent reference it must always agree with.
import t from 'tap';
import fc from 'fast-check';
import { createHmac, createSecretKey } from 'node:crypto';
import { AUTH_ALG, AUTH_DATA_OFFSET, computeAuthData, verifyMessage } from '../../mapserver/codec/index.js';

const ALGS = [
  { algId: AUTH_ALG.hmacSha1, hash: 'sha1', length: 20 },
  { algId: AUTH_ALG.hmacSha256, hash: 'sha256', length: 32 },
] as const;

/** The reference: OpenSSL's HMAC over a copy with the auth field zeroed. */
function reference(hash: string, key: Uint8Array, message: Uint8Array, zeroAt: number, zeroLength: number): Buffer {
  const copy = Buffer.from(message);
  copy.fill(0, zeroAt, zeroAt + zeroLength);
  return createHmac(hash, key).update(copy).digest();
}

t.test('computeAuthData equals createHmac for both algorithms, every key length and message size', async (t) => {
  let checked = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...ALGS),
      // Keys longer than the 64-byte block are hashed first (RFC 2104): cover both sides of it.
      fc.uint8Array({ minLength: 0, maxLength: 150 }),
      // Past the codec's 1500-byte scratch buffer too.
      fc.integer({ min: 0, max: 1700 }),
      fc.integer(),
      (alg, key, extra, seed) => {
        const message = Buffer.alloc(AUTH_DATA_OFFSET + alg.length + extra);
        for (let i = 0; i < message.length; i++) message[i] = (seed + i * 131) & 0xff;
        const expected = reference(alg.hash, key, message, AUTH_DATA_OFFSET, alg.length);
        t.same(computeAuthData(message, alg.algId, key), expected);
        t.same(computeAuthData(message, alg.algId, createSecretKey(key)), expected);
        checked++;
      },
    ),
    { numRuns: 200, seed: 2104 },
  );
  t.equal(checked, 200);
});

t.test('string secrets (cached pads) agree with createHmac, also after other secrets were used', async (t) => {
  const secrets = ['livmap-interop-key', 'x', 'k'.repeat(64), 'k'.repeat(65), 'ünïcödé-secret', 'y'.repeat(200)];
  const message = Buffer.alloc(AUTH_DATA_OFFSET + 32 + 60, 0xa5);
  for (const round of [1, 2]) {
    for (const secret of secrets) {
      for (const alg of ALGS) {
        const expected = reference(alg.hash, Buffer.from(secret, 'utf8'), message, AUTH_DATA_OFFSET, alg.length);
        t.same(computeAuthData(message, alg.algId, secret), expected, `${alg.hash} ${JSON.stringify(secret.slice(0, 12))} round ${round}`);
      }
    }
  }
});

t.test('verifyMessage accepts a message signed by createHmac and refuses it after a one-bit change', async (t) => {
  for (const alg of ALGS) {
    const message = Buffer.alloc(AUTH_DATA_OFFSET + alg.length + 40, 0x11);
    message[0] = 0x30; // Map-Register
    message.writeUInt16BE(alg.algId, AUTH_DATA_OFFSET - 4); // Key ID 0 + Algorithm ID
    message.writeUInt16BE(alg.length, AUTH_DATA_OFFSET - 2);
    message.fill(0, AUTH_DATA_OFFSET, AUTH_DATA_OFFSET + alg.length);
    createHmac(alg.hash, 'secret').update(message).digest().copy(message, AUTH_DATA_OFFSET);
    t.equal(verifyMessage(message, 'secret'), true, `${alg.hash} verifies`);
    t.equal(verifyMessage(message, 'secreT'), false, `${alg.hash} wrong key`);
    message[message.length - 1]! ^= 1;
    t.equal(verifyMessage(message, 'secret'), false, `${alg.hash} changed byte`);
  }
});

t.test('verifyMessage refuses a digest with any one byte changed, full or truncated (RFC 9301 -96 / -128)', async (t) => {
  for (const alg of ALGS) {
    for (const length of [alg.length, alg.algId === AUTH_ALG.hmacSha1 ? 12 : 16]) {
      const message = Buffer.alloc(AUTH_DATA_OFFSET + length + 40, 0x22);
      message[0] = 0x40; // Map-Notify
      message.writeUInt16BE(alg.algId, AUTH_DATA_OFFSET - 4);
      message.writeUInt16BE(length, AUTH_DATA_OFFSET - 2);
      message.fill(0, AUTH_DATA_OFFSET, AUTH_DATA_OFFSET + length);
      createHmac(alg.hash, 'secret').update(message).digest().copy(message, AUTH_DATA_OFFSET, 0, length);
      t.equal(verifyMessage(message, 'secret'), true, `${alg.hash}, ${length} bytes: verifies`);
      let refused = 0;
      for (let i = 0; i < length; i++) {
        message[AUTH_DATA_OFFSET + i]! ^= 0x80;
        if (!verifyMessage(message, 'secret')) refused++;
        message[AUTH_DATA_OFFSET + i]! ^= 0x80;
      }
      t.equal(refused, length, `${alg.hash}, ${length} bytes: each of its bytes changed is refused`);
    }
  }
});
