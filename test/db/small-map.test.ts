import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert';
import { SmallMap } from '../../mapserver/db/small-map.js';

t.test('SmallMap behaves like a Map under any sequence of sets and deletes', async (t) => {
  let steps = 0;
  const op = fc.record({ del: fc.boolean(), key: fc.integer({ min: 0, max: 4 }), value: fc.integer() });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const small = new SmallMap<number, number>();
      const model = new Map<number, number>();
      for (const { del, key, value } of ops) {
        if (del) deepStrictEqual(small.delete(key), model.delete(key));
        else { small.set(key, value); model.set(key, value); }
        deepStrictEqual(small.size, model.size);
        for (let k = 0; k <= 4; k++) {
          deepStrictEqual(small.get(k), model.get(k));
          deepStrictEqual(small.has(k), model.has(k));
        }
        deepStrictEqual([...small.values()].sort(), [...model.values()].sort());
        deepStrictEqual(small.any() !== undefined, model.size > 0);
        if (model.size > 0) deepStrictEqual([...model.values()].includes(small.any()!), true);
        steps++;
      }
    }),
    { numRuns: 500, seed: 42 },
  );
  t.ok(steps > 2000, `${steps} steps compared with a Map`);
});
