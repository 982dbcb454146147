// The migration lab on plain Docker with real OOR 1.3 xTRs and `livmap serve` (the images of
// .ci/containers.sh), wired as GNS3 wires the `livmap gns3` project: the VM moves
// local -> cloud -> local -> cloud by re-linking its wire, both site xTRs are updated with
// `livmap oor-update`, and a 1 ms probe from the correspondent host measures every outage.
// First with register-only switchover, then with POST /api/v1/moves as well. Every move must
// recover; the outages are reported (no timing assertion). Under CI=true a missing Docker,
// image or tool fails the test instead of skipping it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerReady } from '../../simulations/containers/docker-lab.js';
import { LAB_IMAGES, runContainerSeries, startContainerScenario, type ContainerScenario } from '../../simulations/containers/run.js';
import { analyzeSeries, formatTable, writeSeriesResults } from '../../simulations/results.js';
import { livcloudSpec } from '../xtr-config/helpers.js';

t.setTimeout(300_000);

const prefix = `lvt${process.pid}`;
const notRoot = process.getuid?.() !== 0 ? 'needs root (network namespaces, nsenter)' : undefined;
const missing = notRoot ?? (await dockerReady(LAB_IMAGES));

if (missing !== undefined && process.env.CI === 'true') {
  t.fail(`the container scenario must run under CI: ${missing}`);
} else if (missing !== undefined) {
  t.test('the container scenario', { skip: `skipped: ${missing}` }, async () => {});
} else {
  let scenario: ContainerScenario | undefined;
  const out = mkdtempSync(join(tmpdir(), 'livmap-containers-results-'));
  t.teardown(async () => {
    await scenario?.close();
    rmSync(out, { recursive: true, force: true });
  });

  t.test('the lab starts and the correspondent reaches the VM through the OOR xTRs', async (t) => {
    scenario = await startContainerScenario(livcloudSpec(), { prefix, log: (l) => t.comment(l) });
    const names = execFileSync('docker', ['ps', '--filter', `name=^${prefix}-`, '--format', '{{.Names}}'], { encoding: 'utf8' }).trim().split('\n').sort();
    t.same(names, scenario.lab.nodes.map((n) => `${prefix}-${n.name}`).sort(), 'every node runs');
    const oor = await scenario.docker.exec('local-xtr', ['sh', '-c', 'cat /proc/1/comm']);
    t.equal(oor.stdout.trim(), 'oor', 'the xTR container runs OOR itself');
  });

  for (const switchover of ['register', 'api'] as const) {
    t.test(`back and forth, switchover ${switchover}: every move recovers`, async (t) => {
      if (!scenario) throw new Error('the lab did not start');
      const series = await runContainerSeries(scenario, { moves: 3, periodMs: 8000, postMoves: switchover === 'api', log: (l) => t.comment(l) });
      const written = await writeSeriesResults(series.input, join(out, switchover));
      const { moves } = analyzeSeries(series.input);
      t.comment(`containers, real OOR, switchover ${switchover}:\n${formatTable(moves, analyzeSeries(series.input).summary)}`);
      t.equal(moves.length, 3);
      series.updates.forEach((u, i) => {
        for (const [xtr, r] of Object.entries(u)) t.ok(r.ok, `move ${i + 1}: oor-update on ${xtr} succeeded (${r.output})`);
      });
      for (const m of moves) {
        t.ok(m.recovered, `move ${m.index} ${m.direction}: traffic came back (${m.recovered ? `${m.outageMs} ms lost` : `nothing answered in ${m.windowMs} ms; ${m.notes.join('; ')}`})`);
        t.ok(m.probesSent > 1000, `move ${m.index}: probed (${m.probesSent} probes in its window)`);
      }
      t.ok(written.files.some((f) => f.endsWith('results.json')), 'results.json written');
    });
  }

  t.test('teardown leaves no container and no namespace behind', async (t) => {
    await scenario?.close();
    scenario = undefined;
    const left = execFileSync('docker', ['ps', '-a', '--filter', `name=^${prefix}-`, '--format', '{{.Names}}'], { encoding: 'utf8' }).trim();
    t.equal(left, '', 'no container');
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    t.notMatch(namespaces, new RegExp(`${prefix}-`), 'no wires namespace');
  });
}
