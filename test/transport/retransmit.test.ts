import t from 'tap';
import { Retransmitter } from '../../mapserver/transport/retransmit.js';
import { FakeTimers } from '../helpers/fake-timers.js';

t.test('sends at once, then every second, 3 retransmissions, then gives up', async (t) => {
  const timers = new FakeTimers();
  const r = new Retransmitter<string>(timers, 1000, 3);
  const sentAt: number[] = [];
  let gaveUp = 0;
  r.start('n1', () => sentAt.push(timers.now), () => gaveUp++);
  t.same(sentAt, [0]);
  timers.advance(10_000);
  t.same(sentAt, [0, 1000, 2000, 3000]);
  t.equal(gaveUp, 1);
  t.equal(r.size, 0);
  t.equal(timers.pending, 0, 'no timer left behind');
});

t.test('an acknowledgement stops retransmission', async (t) => {
  const timers = new FakeTimers();
  const r = new Retransmitter<string>(timers);
  let sent = 0;
  let gaveUp = false;
  r.start('n1', () => sent++, () => (gaveUp = true));
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
  const r = new Retransmitter<string>(timers);
  const log: string[] = [];
  r.start('k', () => log.push('old'));
  r.start('k', () => log.push('new'));
  timers.advance(1000);
  t.same(log, ['old', 'new', 'new']);
  r.cancelAll();
  t.equal(r.size, 0);
  t.equal(timers.pending, 0);
});

t.test('a group shares one timer per round; cancelled and replaced entries drop out of it', async (t) => {
  const timers = new FakeTimers();
  const r = new Retransmitter<string>(timers, 1000, 3);
  const log: string[] = [];
  const gaveUp: string[] = [];
  r.startAll(['a', 'b', 'c'].map((key) => ({ key, transmit: () => log.push(`${key}@${timers.now}`), onGiveUp: () => gaveUp.push(key) })));
  t.same(log, ['a@0', 'b@0', 'c@0'], 'all sent at once, in order');
  t.equal(timers.pending, 1, 'one timer for the whole group');
  t.ok(r.cancel('b'), 'b acknowledged');
  // A newer message under c's key (the same ITR and EID after another move) replaces it.
  r.start('c', () => log.push(`c2@${timers.now}`));
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
  const r = new Retransmitter<number>(timers);
  let sent = 0;
  r.startAll([1, 2].map((key) => ({ key, transmit: () => sent++ })));
  r.cancel(1);
  t.equal(timers.pending, 1);
  r.cancel(2);
  t.equal(timers.pending, 0);
  timers.advance(10_000);
  t.equal(sent, 2);
});
