// Variants of the netns migration scenario with real OOR xTRs (see netns.test.ts): an old xTR
// whose config still lists the VM (stale), a Map-Register captured on the underlay and replayed
// from another address, and a livmap restart between moves. Each must recover every move;
// the replay must not change the binding; the stale xTR's periodic refresh must not flip it back.
import t from 'tap';
import { ciMustRun } from '../helpers/netns.js';
import { missing, series } from '../helpers/netns-scenario.js';

const why = missing();
t.setTimeout(560_000);

t.test('netns scenario variants with livmap serve and real OOR xTRs', { skip: why && !ciMustRun() ? `skipped: ${why}` : false }, async (t) => {
  if (why) {
    t.fail(`CI=true and the netns scenario cannot run: ${why}`);
    return;
  }
  await t.test('stale old xTR (its config still lists the VM: it keeps refreshing every 60 s)', async (t) => {
    // One move, probed for 65 s: the old xTR's periodic burst (OOR: every 60 s) falls inside.
    const r = await series(t, 'stale', ['--moves', '1', '--tail', '65', '--stale'], 1, 200_000);
    if (!r) return;
    t.same(r.variants, ['stale']);
    const m = r.moves[0]!;
    t.ok(
      m.lostAfterRecovery !== null && m.lostAfterRecovery < 50,
      `the stale xTR's refreshes do not flip the binding back (${m.lostAfterRecovery} probes lost after traffic came back, over ${m.windowMs} ms)`,
    );
  });
  await t.test('a Map-Register captured before move 1 and replayed from another address after it', async (t) => {
    const r = await series(t, 'replay', ['--moves', '2', '--gaps', '3', '--tail', '3', '--replay'], 2, 150_000);
    if (!r) return;
    const replay = r.events.find((e) => e.type === 'replay');
    t.ok(replay, 'the captured Map-Register was re-sent from 10.99.0.9');
    const rlocs = (b: { rlocs?: Array<{ address: string }> } | undefined): string[] => (b?.rlocs ?? []).map((x) => x.address).sort();
    if (replay) t.same(rlocs(replay.bindingAfter), rlocs(replay.bindingBefore), `the replay did not change the binding (${rlocs(replay.bindingBefore).join(',')})`);
  });
  await t.test('livmap serve restarted between two moves', async (t) => {
    const r = await series(t, 'restart', ['--moves', '3', '--gaps', '2', '--tail', '3', '--restart-ms'], 3, 150_000);
    if (r) t.ok(r.events.some((e) => e.type === 'livmap-restart'), 'livmap serve was restarted before move 2');
  });
});
