// node dist/simulations/results-cli.js --probe FILE --moves FILE [options] --out DIR
// The common results step of every migration emulator (see simulations/README.md): raw probe
// log + move records in, results.json + SVG timelines + comparison chart out, a table on stdout.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSeriesResults, type MoveRecord, type ProbeLog, type SeriesEvent } from './results.js';

const HELP = `usage: node dist/simulations/results-cli.js --probe FILE --moves FILE --out DIR [options]

  --probe FILE       probe log: JSON {"intervalMs", "sendWall": [epoch ms...], "rttMs": [ms|null...]}
                     (the last line of the file counts; simulations/netns/daemon.js probe writes it)
  --moves FILE       one JSON object per line: {"index","from","to","gapS","moveAt", and optional
                     "linkMovedAt","newXtrUpdatedAt","oldXtrUpdatedAt","apiMoveAt","notes"} (epoch ms)
  --events FILE      optional, one JSON object per line: {"type","at", ...} (restart, replay, ...)
  --emulator NAME    netns, mininet, containers, loopback (default netns)
  --xtr KIND         oor or emulated (default oor)
  --switchover HOW   register or api (default register)
  --variant NAME     repeatable: stale, replay, restart-ms, ...
  --probe-end MS     epoch ms when probing for the last move stopped (default: last probe)
  --out DIR          writes DIR/results.json, DIR/timelines/move-N.svg, DIR/comparison.svg
Exit status 0 when every move recovered, 3 when some did not (the results are written either way).
`;

function jsonLines<T>(text: string, file: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as T;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: ${(err as Error).message}`);
      }
    });
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      probe: { type: 'string' },
      moves: { type: 'string' },
      events: { type: 'string' },
      emulator: { type: 'string', default: 'netns' },
      xtr: { type: 'string', default: 'oor' },
      switchover: { type: 'string', default: 'register' },
      variant: { type: 'string', multiple: true },
      'probe-end': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.probe || !values.moves || !values.out) {
    process.stderr.write(`results-cli: --probe, --moves and --out are required\n\n${HELP}`);
    return 2;
  }
  const probeText = (await readFile(values.probe, 'utf8')).trim().split('\n').pop() ?? '';
  const probe = JSON.parse(probeText) as ProbeLog;
  if (!Array.isArray(probe.sendWall) || !Array.isArray(probe.rttMs) || probe.sendWall.length !== probe.rttMs.length) {
    throw new Error(`${values.probe}: not a probe log (sendWall and rttMs of equal length)`);
  }
  const moves = jsonLines<MoveRecord>(await readFile(values.moves, 'utf8'), values.moves);
  const events = values.events ? jsonLines<SeriesEvent>(await readFile(values.events, 'utf8'), values.events) : [];
  const written = await writeSeriesResults(
    {
      emulator: values.emulator,
      xtr: values.xtr,
      switchover: values.switchover,
      variants: values.variant ?? [],
      probe,
      moves,
      events,
      ...(values['probe-end'] ? { probeEndAt: Number(values['probe-end']) } : {}),
    },
    resolve(values.out),
  );
  process.stdout.write(written.table);
  process.stderr.write(`results: ${written.files[0]}\n`);
  const allRecovered = (written.results.moves as Array<{ recovered: boolean }>).every((m) => m.recovered);
  return allRecovered ? 0 : 3;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`results-cli: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
