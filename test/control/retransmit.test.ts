import t from 'tap';
import { Retransmitter } from '../../mapserver/control/retransmit.js';
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
