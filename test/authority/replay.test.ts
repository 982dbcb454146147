// The replay window (authority/replay.ts): nonces remembered for the registration lifetime,
// persisted by the second, restored after a restart.
import t from 'tap';
import { ReplayWindow } from '../../mapserver/authority/replay.js';

const T0 = 1_700_000_000_000;
const WINDOW = 180_000;

t.test('a nonce is a replay for at least the window, then forgotten', async (t) => {
  const window = new ReplayWindow(WINDOW);
  t.notOk(window.isReplay(42n, T0));
  window.remember(42n, T0 + 500);
  t.ok(window.isReplay(42n, T0 + 501));
  t.ok(window.isReplay(42n, T0 + 500 + WINDOW), 'still within the window');
  window.flush(T0 + 2 * WINDOW);
  t.notOk(window.isReplay(42n, T0 + 2 * WINDOW), 'gone once out of the window');
  t.equal(window.size, 0);
});

t.test('closed buckets are persisted once, out-of-window ones deleted; a restored window refuses the same nonces', async (t) => {
  const window = new ReplayWindow(WINDOW);
  window.remember(1n, T0 + 100);
  window.remember(2n, T0 + 900);
  t.same(window.flush(T0 + 950), [], 'the open bucket is not written while it fills');
  const written = window.flush(T0 + 1000);
  t.same(written, [{ kind: 'put-nonces', at: T0, nonces: [1n, 2n] }]);
  t.same(window.flush(T0 + 2000), [], 'written once');
  window.remember(3n, T0 + 2500);
  t.same(window.flush(T0 + 2600, true), [{ kind: 'put-nonces', at: T0 + 2000, nonces: [3n] }], 'closing writes the open bucket');

  const restored = new ReplayWindow(WINDOW);
  const stale = restored.load([{ at: T0, nonces: [1n, 2n] }, { at: T0 + 2000, nonces: [3n] }, { at: T0 - 2 * WINDOW, nonces: [9n] }], T0 + 10_000);
  t.same(stale, [{ kind: 'delete-nonces', at: T0 - 2 * WINDOW }], 'a bucket already out of the window is deleted on load');
  for (const nonce of [1n, 2n, 3n]) t.ok(restored.isReplay(nonce, T0 + 10_000), `nonce ${nonce} refused after the restart`);
  t.notOk(restored.isReplay(9n, T0 + 10_000));
  t.same(restored.flush(T0 + WINDOW + 2000), [{ kind: 'delete-nonces', at: T0 }], 'restored buckets age out like the others');
});

t.test('a bucket closed by a later nonce, before any flush, is still stored', async (t) => {
  const window = new ReplayWindow(WINDOW);
  window.remember(1n, T0 + 900);
  window.remember(2n, T0 + 1100);
  t.same(window.flush(T0 + 1200), [{ kind: 'put-nonces', at: T0, nonces: [1n] }], 'under steady load a bucket is closed by the next nonce, not by the sweep');
  t.same(window.flush(T0 + 2000), [{ kind: 'put-nonces', at: T0 + 1000, nonces: [2n] }]);
  t.equal(window.size, 2);
});

t.test('a window of many nonces: each refused while in the window, none after (the table grows and reuses slots)', async (t) => {
  const window = new ReplayWindow(WINDOW);
  // 200 seconds of 1000 nonces each: the first 20 seconds' are out of the window at the end.
  // Nonces as OOR draws them (random) and as the bench numbers them (sequential).
  const nonceOf = (s: number, i: number): bigint => (s % 2 ? BigInt(s) << 32n : 0x9e3779b97f4a7c15n * BigInt(s * 1000 + i + 1)) | BigInt(i);
  const seconds = 200;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < 1000; i++) {
      const nonce = BigInt.asUintN(64, nonceOf(s, i));
      if (window.isReplay(nonce, T0 + s * 1000 + i)) t.fail(`nonce ${nonce} refused before it was accepted`);
      window.remember(nonce, T0 + s * 1000 + i);
    }
    window.flush(T0 + (s + 1) * 1000);
  }
  const end = T0 + seconds * 1000;
  let refusedInWindow = 0;
  let refusedOutside = 0;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < 1000; i += 7) {
      const refused = window.isReplay(BigInt.asUintN(64, nonceOf(s, i)), end);
      if (end - (T0 + s * 1000) < WINDOW + 1000) refusedInWindow += refused ? 1 : 0;
      else refusedOutside += refused ? 1 : 0;
    }
  }
  const inWindow = [...Array(seconds).keys()].filter((s) => seconds * 1000 - s * 1000 < WINDOW + 1000).length;
  t.equal(refusedInWindow, inWindow * 143, 'every nonce still in the window is refused');
  t.equal(refusedOutside, 0, 'no nonce out of the window is');
  t.equal(window.size, inWindow * 1000);
});
