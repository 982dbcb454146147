// AnsweredReport: what a worker tells the main thread's requester table, and what it keeps to itself.
import t from 'tap';
import type { Requester } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { AnsweredReport, EXPIRY_GRAIN_MS } from '../../mapserver/workers/answered.js';

const eid = parseEidPrefix('10.16.50.7/32');
const other = parseEidPrefix('10.16.50.8/32');
const src = { afi: 'ipv4', ip: '10.16.10.9' } as const;
const at = (itr: string, expiresAt: number, extra: Partial<Requester> = {}): Requester => ({ itr, sourceEid: src, eid, expiresAt, ...extra });

t.test('only what the main table needs is reported; expiries rounded up to the grain', async (t) => {
  const report = new AnsweredReport(100);
  report.note(at('127.0.0.1', 61_000));
  report.note(at('127.0.0.1', 61_000));
  report.note(at('127.0.0.1', 75_000));
  t.same(report.take().map((r) => r.expiresAt), [90_000], 'asked again within the grain: reported once, with the expiry rounded up');
  report.note(at('127.0.0.1', 90_000));
  t.same(report.take(), [], 'an expiry the report already covers is not reported');
  report.note(at('127.0.0.1', 90_001));
  t.same(report.take().map((r) => r.expiresAt), [90_000 + EXPIRY_GRAIN_MS], 'an answer that outlives the reported expiry is reported');
  report.note(at('127.0.0.2', 60_000));
  report.note({ ...at('127.0.0.1', 60_000), eid: other });
  t.equal(report.take().length, 2, 'another ITR, another prefix');
  report.note(at('127.0.0.1', 60_000, { sourceEid: { afi: 'ipv4', ip: '10.16.10.10' } }));
  t.equal(report.take().length, 1, 'another source EID (the SMR names it)');
  const subscription = { xtrId: new Uint8Array(16) };
  report.note(at('127.0.0.1', 60_000, { subscription }));
  report.note(at('127.0.0.1', 60_000, { subscription }));
  t.equal(report.take().length, 2, 'a subscription always (it must reach the main table)');
  t.same(report.take(), [], 'take empties the report');
});

t.test('expired answers are forgotten; the capacity bounds what is kept', async (t) => {
  const report = new AnsweredReport(3);
  report.note(at('127.0.0.1', 10_000));
  report.take();
  report.sweep(40_000);
  report.note(at('127.0.0.1', 10_000));
  t.equal(report.take().length, 1, 'after the sweep an answer is reported again');
  for (let i = 2; i <= 5; i++) report.note(at(`127.0.0.${i}`, 60_000));
  t.equal(report.take().length, 4, 'new answers are reported past the capacity');
  report.note(at('127.0.0.2', 60_000));
  t.equal(report.take().length, 1, 'but what was kept was forgotten: reported again');
});

t.test('a prefix answered with a new object each time (negative answers) is one entry, reported once', async (t) => {
  const report = new AnsweredReport(3);
  for (let i = 0; i < 1000; i++) report.note({ ...at('127.0.0.1', 61_000), eid: parseEidPrefix('11.0.0.0/8') });
  t.equal(report.take().length, 1, 'reported once, not once per object');
  report.note({ ...at('127.0.0.2', 61_000), eid: parseEidPrefix('11.0.0.0/8') });
  report.note({ ...at('127.0.0.3', 61_000), eid: parseEidPrefix('11.0.0.0/8') });
  t.equal(report.take().length, 2, 'other ITRs still reported: the 1000 objects took one slot of three');
  report.sweep(100_000);
  report.note({ ...at('127.0.0.1', 161_000), eid: parseEidPrefix('11.0.0.0/8') });
  t.equal(report.take().length, 1, 'swept empty, the prefix is reported again when answered again');
  const stored = parseEidPrefix('10.16.50.0/24');
  report.note({ ...at('127.0.0.1', 161_000), eid: stored });
  report.sweep(200_000);
  report.note({ ...at('127.0.0.1', 261_000), eid: stored });
  t.equal(report.take().length, 2, 'an object remembered before a sweep emptied its prefix does not hide the new answer');
});
