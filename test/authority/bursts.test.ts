// Register bursts (authority/bursts.ts): when an ETR's burst is complete, and which bursts are
// OOR's 3 s retries of one unanswered Map-Register.
import t from 'tap';
import { BURST_QUIET_MS, BurstTracker, OOR_RETRY_WINDOW_MS } from '../../mapserver/authority/bursts.js';

const T0 = 1_700_000_000_000;

t.test('Map-Registers less than the quiet gap apart are one burst; the next burst completes it', async (t) => {
  const bursts = new BurstTracker();
  const first = bursts.arrive('rloc:a', T0);
  t.same(bursts.arrive('rloc:a', T0 + 3), { seq: first.seq }, 'OOR sends a burst within ~3 ms');
  t.same(bursts.peek('rloc:a', T0 + 3 + BURST_QUIET_MS - 1), { seq: first.seq }, 'still within the burst');
  const next = bursts.peek('rloc:a', T0 + 1000);
  t.same(next, { seq: first.seq + 1, completed: first.seq, completedMaybeRetry: false }, 'a register 1 s later starts a new burst and completes the first');
  t.same(bursts.arrive('rloc:a', T0 + 1000), next, 'arrive records what peek said');
  t.same(bursts.peek('rloc:a', T0 + 1001), { seq: next.seq }, 'and peek does not record');
});

t.test('ETRs have bursts of their own, and sequence numbers are never reused', async (t) => {
  const bursts = new BurstTracker();
  const a = bursts.arrive('rloc:a', T0);
  const b = bursts.arrive('rloc:b', T0 + 1);
  t.not(a.seq, b.seq);
  t.same(bursts.arrive('rloc:a', T0 + 2), { seq: a.seq }, "b's register does not break a's burst");
});

t.test('the sweep completes a quiet burst once; the next arrival then completes nothing more', async (t) => {
  const bursts = new BurstTracker();
  const first = bursts.arrive('rloc:a', T0);
  t.same(bursts.completeQuiet(T0 + BURST_QUIET_MS - 1), [], 'not quiet yet');
  t.same(bursts.completeQuiet(T0 + BURST_QUIET_MS), [{ etrId: 'rloc:a', seq: first.seq, maybeRetry: false }]);
  t.same(bursts.completeQuiet(T0 + 10_000), [], 'once');
  t.notOk(bursts.arrive('rloc:a', T0 + 60_000).completed, 'already completed by the sweep');
});

t.test("a burst that starts when OOR's retry would (2–3 s after the last) is flagged as a possible retry", async (t) => {
  const bursts = new BurstTracker();
  const full = bursts.arrive('rloc:a', T0);
  bursts.arrive('rloc:a', T0 + 2);
  const retry = bursts.arrive('rloc:a', T0 + OOR_RETRY_WINDOW_MS.from + 100);
  t.same(retry, { seq: retry.seq, completed: full.seq, completedMaybeRetry: false }, 'it completes the full burst before it, which was no retry');
  t.same(bursts.completeQuiet(T0 + OOR_RETRY_WINDOW_MS.from + 100 + BURST_QUIET_MS), [{ etrId: 'rloc:a', seq: retry.seq, maybeRetry: true }]);
  const change = bursts.arrive('rloc:a', T0 + 20_000);
  t.notOk(change.completed, 'completed by the sweep already');
  t.same(bursts.completeQuiet(T0 + 20_000 + BURST_QUIET_MS), [{ etrId: 'rloc:a', seq: change.seq, maybeRetry: false }], 'a burst at any other time is no retry');
  const early = bursts.arrive('rloc:a', T0 + 20_000 + 1_000);
  const late = bursts.arrive('rloc:a', T0 + 20_000 + 1_000 + OOR_RETRY_WINDOW_MS.to + 1);
  t.equal(late.completedMaybeRetry, false, `a burst 1 s after the last is no retry (${early.seq})`);
});

t.test('a register that lists a prefix again starts the next burst within the quiet gap', async (t) => {
  const bursts = new BurstTracker();
  const first = bursts.arrive('rloc:a', T0);
  t.equal(bursts.openBurst('rloc:a', T0 + 100), first.seq, 'open within the quiet gap');
  const next = bursts.arrive('rloc:a', T0 + 100, true);
  t.same(next, { seq: first.seq + 1, completed: first.seq, completedMaybeRetry: false }, 'completes the first burst at once');
  t.equal(bursts.openBurst('rloc:a', T0 + 100 + BURST_QUIET_MS), undefined, 'closed once quiet');
});
