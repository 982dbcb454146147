import t from 'tap';
import { RequesterTable } from '../../mapserver/control/requesters.js';
import { REQUESTER_SLICE, REQUESTERS_SAVE_MS, RequesterSaver } from '../../mapserver/compose/requester-saver.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import { decodeRequesters } from '../../mapserver/store/codec.js';
import { Store } from '../../mapserver/store/store.js';
import type { Requester } from '../../mapserver/db/model.js';

const T0 = 1_700_000_000_000;

function requester(i: number, expiresAt = T0 + 60_000): Requester {
  return { itr: `10.99.${(i >> 8) & 255}.${i & 255}`, sourceEid: { afi: 'ipv4', ip: '172.16.30.10' }, eid: parseEidPrefix(`10.16.${(i >> 8) & 255}.${i & 255}/32`), expiresAt };
}

/** A saver whose event-loop turns the test releases one at a time. */
function steppedSaver(table: RequesterTable) {
  const saved: Uint8Array[] = [];
  const errors: unknown[] = [];
  let release: (() => void) | undefined;
  let turns = 0;
  const saver = new RequesterSaver(table, (encoded) => saved.push(encoded), (err) => errors.push(err), () => {
    turns++;
    return new Promise<void>((resolve) => (release = resolve));
  });
  /** Lets the walk go on to its next turn; resolves once it has reached it (or finished). */
  const step = async (): Promise<void> => {
    const go = release;
    release = undefined;
    go?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { saver, saved, errors, step, turns: () => turns, waiting: () => release !== undefined };
}

const itrs = (encoded: Uint8Array): string[] => decodeRequesters(encoded).map((r) => r.itr);

t.test('a full table is encoded a slice per turn, and decodes as the live entries, oldest first', async (t) => {
  const table = new RequesterTable(10_000);
  const count = 5 * REQUESTER_SLICE + 17;
  for (let i = 0; i < count; i++) table.record(requester(i, i % 100 === 0 ? T0 + 500 : T0 + 60_000));
  const { saver, saved, errors, step, turns, waiting } = steppedSaver(table);
  saver.tick(T0 + REQUESTERS_SAVE_MS);
  await step();
  t.ok(waiting(), 'the walk yields after its first slice');
  t.same(saved, [], 'nothing is written before the walk ends');
  while (waiting()) await step();
  t.equal(turns(), Math.floor(count / REQUESTER_SLICE), 'one turn per slice');
  t.same(errors, []);
  t.equal(saved.length, 1);
  const expected = table.snapshot(T0 + REQUESTERS_SAVE_MS);
  t.equal(expected.length, count - Math.ceil(count / 100), 'the expired entries are left out');
  t.same(decodeRequesters(saved[0]!), expected, 'the concatenated slices decode as the whole table');
});

t.test('entries removed during the walk are skipped, added ones wait for the next save', async (t) => {
  const table = new RequesterTable(10_000);
  const count = 3 * REQUESTER_SLICE;
  // The youngest 10 are still live when the save starts, and dropped (expired) before the walk reaches them.
  for (let i = 0; i < count; i++) table.record(requester(i, i >= count - 10 ? T0 + REQUESTERS_SAVE_MS + 1000 : T0 + 60_000));
  const { saver, saved, step, waiting } = steppedSaver(table);
  saver.tick(T0 + REQUESTERS_SAVE_MS);
  await step();
  t.ok(waiting(), 'the walk is under way');
  for (let i = count - 10; i < count; i++) table.overlapping(requester(i).eid, T0 + REQUESTERS_SAVE_MS + 2000);
  for (let i = 0; i < 10; i++) table.record(requester(10_000 + i));
  while (waiting()) await step();
  const first = itrs(saved[0]!);
  const dropped = Array.from({ length: 10 }, (_, k) => requester(count - 10 + k).itr);
  t.notOk(first.some((itr) => dropped.includes(itr)), 'the entries dropped before the walk reached them are not in it');
  t.equal(first.length, count, 'the walk visits no more entries than the table held when it began');
  t.same(first.slice(0, count - 10), table.snapshot(T0).slice(0, count - 10).map((r) => r.itr), 'every entry that stayed, in age order');
  saver.tick(T0 + REQUESTERS_SAVE_MS + 1000);
  t.equal(saved.length, 1, 'the next save waits 5 s');
  saver.tick(T0 + 2 * REQUESTERS_SAVE_MS);
  while (waiting()) await step();
  t.equal(saved.length, 2);
  t.same(itrs(saved[1]!), table.snapshot(T0).map((r) => r.itr), 'the next save holds them');
  t.ok(itrs(saved[1]!).includes(requester(10_009).itr));
  saver.tick(T0 + 3 * REQUESTERS_SAVE_MS);
  await step();
  t.equal(saved.length, 2, 'an unchanged table is not saved again');
});

t.test('stop() ends a walk without writing; final() encodes what changed since the last save', async (t) => {
  const table = new RequesterTable(10_000);
  for (let i = 0; i < 2 * REQUESTER_SLICE; i++) table.record(requester(i));
  const { saver, saved, step, waiting } = steppedSaver(table);
  saver.markSaved();
  t.equal(saver.final(T0), undefined, 'nothing to write for a table just restored');
  table.record(requester(99_999));
  saver.tick(T0 + REQUESTERS_SAVE_MS);
  await step();
  t.ok(waiting());
  saver.stop();
  await step();
  t.same(saved, [], 'the stopped walk writes nothing');
  saver.tick(T0 + 2 * REQUESTERS_SAVE_MS);
  t.notOk(waiting(), 'and no walk starts after stop()');
  const final = saver.final(T0);
  t.ok(final);
  t.same(itrs(final!), table.snapshot(T0).map((r) => r.itr));
});

t.test('a sliced save reaches a real store and comes back on reopen', async (t) => {
  const dir = t.testdir();
  const store = await Store.open(dir, { sync: false });
  const table = new RequesterTable(10_000);
  for (let i = 0; i < 3 * REQUESTER_SLICE + 1; i++) table.record(requester(i));
  const written = new Promise<void>((resolve, reject) => {
    const saver = new RequesterSaver(table, (encoded) => void store.apply([{ kind: 'put-requesters', encoded }]).then(resolve, reject), reject);
    saver.tick(T0 + REQUESTERS_SAVE_MS);
  });
  await written;
  await store.close();
  const reopened = await Store.open(dir, { sync: false });
  t.teardown(() => reopened.close());
  t.same((await reopened.loadAll()).requesters, table.snapshot(T0));
});
