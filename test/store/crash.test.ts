// kill -9 a process in the middle of a write burst: every write it saw acknowledged must be
// there after reopening, and the store must open normally (no repair).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../mapserver/store/store.js';
import { registrationStoreKey } from '../../mapserver/store/store.js';

const child = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));

/** The TypeScript loader tap runs us with, minus tap's process-info hook. */
function childArgs(): string[] {
  return process.execArgv.filter((a) => !a.includes('processinfo'));
}

async function runAndKill(t: Test, dir: string, start: number, minAcked: number): Promise<string[]> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const proc = spawn(process.execPath, [...childArgs(), child, dir, String(start)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: string[] = [];
  let stderr = '';
  let partial = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line !== 'ready') acked.push(line);
      if (acked.length >= minAcked) resolve();
    });
    proc.on('exit', () => reject(new Error(`child exited early: ${stderr}`)));
  });
  proc.kill('SIGKILL');
  const how = await exited;
  // Lines already in the pipe were acknowledged too; drain them.
  await new Promise<void>((resolve) => (proc.stdout.readableEnded ? resolve() : proc.stdout.on('end', () => resolve())));
  // A torn last line (`partial`) is not a complete acknowledgement and is ignored.
  t.equal(how, 'SIGKILL', 'child was killed mid-burst');
  return acked;
}

t.test('kill -9 mid-burst loses no acknowledged write', async (t) => {
  const dir = t.testdir();
  const everAcked: string[] = [];
  for (let round = 0; round < 2; round++) {
    const acked = await runAndKill(t, dir, round * 1_000_000, 400);
    t.ok(acked.length >= 400, `round ${round}: ${acked.length} writes acknowledged before the kill`);
    const store = await Store.open(dir);
    const state = await store.loadAll();
    await store.close();
    t.same(state.corrupt, [], 'nothing corrupt');
    const stored = new Set(state.registrations.map((r) => registrationStoreKey(r.record.eid, r.etrId)));
    const missing = acked.filter((k) => !stored.has(k));
    for (const k of acked) if (!everAcked.includes(k)) everAcked.push(k);
    t.same(everAcked.filter((k) => !stored.has(k)), [], 'earlier rounds survive too');
    t.same(missing, [], `round ${round}: every acknowledged key is stored (${stored.size} stored)`);
  }
});
