// decode names an HMAC by algorithm and length, and checks full and truncated digests alike.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { checkAuth } from '../../mapserver/cli/decode.js';
import { hmacLabel } from '../../mapserver/cli/format.js';
import { controlFrames, frame } from '../helpers/vectors.js';

t.test('labels by length', async (t) => {
  t.equal(hmacLabel(1, 20), 'HMAC-SHA-1, full 20-byte digest');
  t.equal(hmacLabel(1, 12), 'HMAC-SHA-1-96');
  t.equal(hmacLabel(2, 32), 'HMAC-SHA-256, full 32-byte digest');
  t.equal(hmacLabel(2, 16), 'HMAC-SHA-256-128');
  t.equal(hmacLabel(0, 0), 'none');
  t.equal(hmacLabel(1, 16), undefined);
  t.equal(hmacLabel(3, 20), undefined);
});

/** The same Map-Register re-signed with the first `length` bytes of its HMAC only. */
function truncated(bytes: Uint8Array, hash: 'sha1' | 'sha256', algId: number, length: number, secret: string): Buffer {
  const full = hash === 'sha1' ? 20 : 32;
  const original = Buffer.from(bytes);
  const origLength = original.readUInt16BE(14);
  const out = Buffer.concat([original.subarray(0, 16), Buffer.alloc(length), original.subarray(16 + origLength)]);
  out[13] = algId;
  out.writeUInt16BE(length, 14);
  out.set(createHmac(hash, secret).update(out).digest().subarray(0, Math.min(length, full)), 16);
  return out;
}

t.test('checkAuth verifies full and truncated digests, and fails a wrong key', async (t) => {
  const register = frame(controlFrames('01-register-notify.pcap'), 1).bytes;
  t.same(checkAuth(register, 'lisp-interop-key'), { ok: true, text: 'verified (HMAC-SHA-1, full 20-byte digest)' });
  t.same(checkAuth(register, 'wrong'), { ok: false, text: 'FAILED (HMAC-SHA-1, full 20-byte digest)' });
  for (const [hash, algId, length, label] of [['sha1', 1, 12, 'HMAC-SHA-1-96'], ['sha256', 2, 16, 'HMAC-SHA-256-128'], ['sha256', 2, 32, 'HMAC-SHA-256, full 32-byte digest']] as const) {
    const bytes = truncated(register, hash, algId, length, 'k3y');
    t.same(checkAuth(bytes, 'k3y'), { ok: true, text: `verified (${label})` });
    t.same(checkAuth(bytes, 'other'), { ok: false, text: `FAILED (${label})` });
  }
  t.equal(checkAuth(Buffer.from([0x10, 0, 0, 1]), 'k'), undefined, 'a Map-Request carries no HMAC');
});
