// The container scenario: `livmap gns3`'s project run on plain Docker (no GNS3), real OOR xTRs,
// a back-and-forth series of VM moves, each outage reported.
//
//   npm run build && node dist/simulations/containers/run.js [--spec FILE] [--moves N]
//       [--post-moves] [--period-ms MS] [--out DIR]
//
// Needs root, Docker with the images of .ci/containers.sh (livmap/livmap, livmap/oor-xtr,
// livmap/host), iproute2 and nsenter. Writes DIR/results.json, DIR/timelines/move-N.svg and DIR/comparison.svg
// (simulations/results.ts; default DIR sim-results/containers). Exit 1 if a move did not recover.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGns3Project } from '../../xtr-config/gns3.js';
import { buildLab, type Lab } from '../../xtr-config/lab.js';
import { writeAtomically } from '../../xtr-config/write.js';
import { DockerLab, dockerReady } from './docker-lab.js';
import { writeSeriesResults } from '../results.js';
import { runSeries, waitForReachability, type ContainerSeries, type SeriesOptions } from './series.js';

export const LAB_IMAGES = ['livmap/livmap', 'livmap/oor-xtr', 'livmap/host'] as const;

export interface ContainerScenario {
  readonly lab: Lab;
  readonly docker: DockerLab;
  readonly projectDir: string;
  close(): Promise<void>;
}

/** Writes the GNS3 project of the spec into a temporary directory and starts it on Docker. */
export async function startContainerScenario(rawSpec: unknown, options: { readonly prefix: string; readonly log?: (line: string) => void }): Promise<ContainerScenario> {
  const lab = buildLab(rawSpec);
  const project = buildGns3Project(lab, { name: 'livmap-scenario3' });
  const projectDir = mkdtempSync(join(tmpdir(), 'livmap-containers-'));
  await writeAtomically(project.files.map((f) => ({ path: join(projectDir, f.path), text: f.text })));
  const docker = new DockerLab(lab, { projectDir, nodeIds: project.nodeIds, prefix: options.prefix, ...(options.log ? { log: options.log } : {}) });
  const close = async (): Promise<void> => {
    await docker.stop();
    rmSync(projectDir, { recursive: true, force: true });
  };
  try {
    await docker.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { lab, docker, projectDir, close };
}

export async function runContainerSeries(scenario: ContainerScenario, options: SeriesOptions & { readonly readyWithinMs?: number }): Promise<ContainerSeries> {
  const vm = scenario.lab.vms[0]!;
  if (!(await waitForReachability(scenario.docker, scenario.lab, vm, options.readyWithinMs ?? 60_000))) {
    const logs = await Promise.all(scenario.lab.nodes.map(async (n) => `--- ${n.name}\n${(await scenario.docker.logs(n.name)).split('\n').slice(-15).join('\n')}`));
    throw new Error(`the correspondent never reached the VM before the first move\n${logs.join('\n')}`);
  }
  return runSeries(scenario.docker, scenario.lab, options);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      spec: { type: 'string', default: join(process.cwd(), 'xtr-config/sites/livcloud.json') },
      moves: { type: 'string', default: '3' },
      'post-moves': { type: 'boolean', default: false },
      'period-ms': { type: 'string', default: '8000' },
      out: { type: 'string', default: join(process.cwd(), 'sim-results/containers') },
    },
    strict: true,
  });
  const missing = await dockerReady(LAB_IMAGES);
  if (missing) {
    process.stderr.write(`containers scenario: ${missing}\n`);
    return 77;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const scenario = await startContainerScenario(JSON.parse(readFileSync(values.spec, 'utf8')) as unknown, { prefix: `lvc${process.pid}`, log });
  const stop = (): void => void scenario.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const series = await runContainerSeries(scenario, { moves: Number(values.moves), postMoves: values['post-moves'], periodMs: Number(values['period-ms']), log });
    const written = await writeSeriesResults(series.input, values.out);
    process.stdout.write(written.table);
    log(`results: ${written.files.join(', ')}`);
    return (written.results.moves as Array<{ recovered: boolean }>).every((m) => m.recovered) ? 0 : 1;
  } finally {
    await scenario.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`containers scenario: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
