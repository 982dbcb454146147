import t from 'tap';
import fc from 'fast-check';
import { ExpiryQueue } from '../../mapserver/db/expiry.js';
import type { Mutable } from '../../mapserver/codec/types.js';
import type { Registration } from '../../mapserver/db/model.js';
import { record, registration } from '../helpers/fixtures.js';

const T0 = 1_700_000_000_000;
const RECORD = record('10.16.10.0/24', ['10.99.0.3']);

/** The queue as the database drives it: one current registration per key, pushes as in apply(). */
class Keyed {
  readonly queue = new ExpiryQueue();
  readonly current = new Map<string, Registration>();

  put(key: string, expiresAt: number): Registration {
    const reg: Registration = { ...registration('s', '10.99.0.3', RECORD, T0), etrId: key, expiresAt };
    const previous = this.current.get(key);
    this.current.set(key, reg);
    if (!previous || reg.expiresAt < previous.expiresAt) this.queue.push(reg);
    return reg;
  }

  /** A lifetime refresh, applied in place as the database does (model.ts LifetimeRefresh). */
  refresh(key: string, expiresAt: number): void {
    const reg = this.current.get(key) as Mutable<Registration> | undefined;
    if (!reg) return;
    const shortened = expiresAt < reg.expiresAt;
    reg.expiresAt = expiresAt;
    if (shortened) this.queue.push(reg);
  }

  delete(key: string): void {
    this.current.delete(key);
  }

  take(now: number): Registration[] {
    const due = this.queue.popDue(now, (reg) => this.current.get(reg.etrId));
    for (const reg of due) this.current.delete(reg.etrId); // the caller deletes what is due
    return due;
  }
}

t.test('refreshes that keep or extend the lifetime add no heap entry, and expire at their own time', async (t) => {
  const keyed = new Keyed();
  for (let i = 0; i < 10_000; i++) keyed.put('a', T0 + 180_000 + i * 60_000);
  t.equal(keyed.queue.size, 1, 'one entry for 10,000 refreshes');
  t.same(keyed.take(T0 + 180_000), [], 'the first entry surfaces, the key is not due');
  t.equal(keyed.queue.size, 1, 'pushed again at the current registration\'s time');
  const last = keyed.current.get('a')!;
  t.same(keyed.take(last.expiresAt - 1), []);
  t.same(keyed.take(last.expiresAt), [last], 'due exactly at the last refresh\'s expiry');
  t.equal(keyed.queue.size, 0);
});

t.test('a refresh that shortens the lifetime expires at the shorter time, and once', async (t) => {
  const keyed = new Keyed();
  keyed.put('a', T0 + 180_000);
  const shorter = keyed.put('a', T0 + 60_000); // T bit with a smaller record TTL
  t.same(keyed.take(T0 + 60_000), [shorter]);
  t.same(keyed.take(T0 + 180_000), [], 'the old entry finds nothing');
  // Shortened, then an old entry surfaces while the current one is still live, then both entries are due together.
  keyed.put('b', T0 + 300_000);
  keyed.put('b', T0 + 400_000);
  const b = keyed.put('b', T0 + 350_000);
  t.same(keyed.take(T0 + 300_000), []);
  t.same(keyed.take(T0 + 350_000), [b], 'two entries of one key, reported once');
});

t.test('a lifetime changed in place does not hide the entries behind it', async (t) => {
  const keyed = new Keyed();
  const a = keyed.put('a', T0 + 100);
  const b = keyed.put('b', T0 + 200);
  const c = keyed.put('c', T0 + 300);
  keyed.refresh('a', T0 + 1_000);
  t.same(keyed.take(T0 + 250), [b], 'b is due although the entry above it was pushed for a, now refreshed');
  t.same(keyed.take(T0 + 999), [c], 'a is pushed again at its new time');
  keyed.refresh('a', T0 + 500); // shortened in place: its own entry
  t.same(keyed.take(T0 + 500), [a], 'due at the shortened time');
  t.same(keyed.take(T0 + 1_000), [], 'and reported once');
});

t.test('against a model: every due registration once, only current ones, none left behind', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), key: fc.integer({ min: 0, max: 5 }), lifetime: fc.integer({ min: 1, max: 500 }) }),
    fc.record({ kind: fc.constant('refresh' as const), key: fc.integer({ min: 0, max: 5 }), lifetime: fc.integer({ min: 1, max: 500 }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant('take' as const), advance: fc.integer({ min: 0, max: 300 }) }),
  );
  /** Whether `due` holds exactly the registrations of `expected`, each once. */
  const sameSet = (due: Registration[], expected: Registration[]): boolean =>
    due.length === expected.length && new Set(due).size === due.length && expected.every((reg) => due.includes(reg));
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const keyed = new Keyed();
        let now = T0;
        for (const o of ops) {
          if (o.kind === 'put') keyed.put(`k${o.key}`, now + o.lifetime);
          else if (o.kind === 'refresh') keyed.refresh(`k${o.key}`, now + o.lifetime);
          else if (o.kind === 'delete') keyed.delete(`k${o.key}`);
          else {
            now += o.advance;
            const expected = [...keyed.current.values()].filter((reg) => reg.expiresAt <= now);
            if (!sameSet(keyed.take(now), expected)) return false;
          }
        }
        // Every registration still stored comes due in the end: none lost its entry.
        const stored = [...keyed.current.values()];
        return sameSet(keyed.take(Number.MAX_SAFE_INTEGER), stored);
      }),
      { numRuns: 500 },
    ),
  );
});
