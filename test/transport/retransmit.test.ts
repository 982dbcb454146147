import t from 'tap';
import { Retransmitter } from '../../mapserver/transport/retransmit.js';
import type { Timers } from '../../mapserver/control/types.js';
import { FakeTimers } from '../helpers/fake-timers.js';

/** An item that says itself what a transmission and a give-up do. */
interface Item<K> {
  readonly key: K;
  readonly transmit: () => void;
  readonly onGiveUp?: () => void;
}

function retransmitter<K = string>(timers: Timers, intervalMs?: number, retries?: number): Retransmitter<K, Item<K>> {
  return new Retransmitter<K, Item<K>>(timers, { transmit: (item) => item.transmit(), giveUp: (item) => item.onGiveUp?.() }, intervalMs, retries);
}

t.test('sends at once, then every second, 3 retransmissions, then gives up', async (t) => {
  const timers = new FakeTimers();
  const r = retransmitter(timers, 1000, 3);
  const sentAt: number[] = [];
  let gaveUp = 0;
  r.startAll([{ key: 'n1', transmit: () => sentAt.push(timers.now), onGiveUp: () => gaveUp++ }]);
  t.same(sentAt, [0]);
  timers.advance(10_000);
  t.same(sentAt, [0, 1000, 2000, 3000]);
  t.equal(gaveUp, 1);
  t.equal(r.size, 0);
  t.equal(timers.pending, 0, 'no timer left behind');
});

t.test('an acknowledgement stops retransmission', async (t) => {
  const timers = new FakeTimers();
  const r = retransmitter(timers);
  let sent = 0;
  let gaveUp = false;
  r.startAll([{ key: 'n1', transmit: () => sent++, onGiveUp: () => (gaveUp = true) }]);
  timers.advance(1500);
  t.equal(sent, 2);
  t.ok(r.cancel('n1'));
  t.notOk(r.cancel('n1'), 'a second ack finds nothing');
  timers.advance(10_000);
  t.equal(sent, 2);
  t.notOk(gaveUp);
});

t.test('restarting a key replaces the pending entry', async (t) => {
  const timers = new FakeTimers();
  const r = retransmitter(timers);
  const log: string[] = [];
  r.startAll([{ key: 'k', transmit: () => log.push('old') }]);
  r.startAll([{ key: 'k', transmit: () => log.push('new') }]);
  timers.advance(1000);
  t.same(log, ['old', 'new', 'new']);
  r.cancelAll();
  t.equal(r.size, 0);
  t.equal(timers.pending, 0);
});

t.test('a group shares one timer per round; cancelled and replaced entries drop out of it', async (t) => {
  const timers = new FakeTimers();
  const r = retransmitter(timers, 1000, 3);
  const log: string[] = [];
  const gaveUp: string[] = [];
  r.startAll(['a', 'b', 'c'].map((key) => ({ key, transmit: () => log.push(`${key}@${timers.now}`), onGiveUp: () => gaveUp.push(key) })));
  t.same(log, ['a@0', 'b@0', 'c@0'], 'all sent at once, in order');
  t.equal(timers.pending, 1, 'one timer for the whole group');
  t.ok(r.cancel('b'), 'b acknowledged');
  // A newer message under c's key (the same ITR and EID after another move) replaces it.
  r.startAll([{ key: 'c', transmit: () => log.push(`c2@${timers.now}`) }]);
  log.length = 0;
  timers.advance(1000);
  t.same(log, ['a@1000', 'c2@1000'], 'the group resends only a; c2 is its own group');
  timers.advance(10_000);
  t.same(gaveUp, ['a'], 'only a gave up in the first group');
  t.equal(r.size, 0);
  t.equal(timers.pending, 0, 'no timer left behind');
});

t.test('a group whose every entry is acknowledged leaves no timer', async (t) => {
  const timers = new FakeTimers();
  const r = retransmitter<number>(timers);
  let sent = 0;
  r.startAll([1, 2].map((key) => ({ key, transmit: () => sent++ })));
  r.cancel(1);
  t.equal(timers.pending, 1);
  r.cancel(2);
  t.equal(timers.pending, 0);
  timers.advance(10_000);
  t.equal(sent, 2);
});
