// The operator verbs against a real `livmap serve`, on the endpoints of issue #17's API half:
// /sites xTR status, /registrations filters and cursors, DELETE /registrations, /events/history,
// /version. These pass once that branch is merged.
import t from 'tap';
import { livmap } from '../helpers/cli.js';
import { serveWith, type ServeProcess } from './serve-process.js';

/** Registers as an ETR at `rloc` (sent from there, so each RLOC is its own ETR). */
async function registered(serve: ServeProcess, eid: string, rloc: string, key: string): Promise<void> {
  const run = await livmap(['register', '--ms', `127.0.0.1:${serve.lispPort}`, '--eid', eid, '--rloc', rloc, '--key', key, '--source', rloc]);
  if (run.code !== 0) throw new Error(`register ${eid} failed: ${run.stderr}`);
}

t.test('(API branch) sites show xTRs and auth failures; registrations filter and follow cursors; clear; history; server version', async (t) => {
  const serve = await serveWith(t.testdir());
  t.teardown(() => void serve.stop('SIGKILL'));
  await registered(serve, '10.16.10.0/24', '127.0.0.1', 'local-key');
  for (const host of [10, 11, 12, 13]) await registered(serve, `10.16.10.${host}/32`, '127.0.0.1', 'local-key');
  await registered(serve, '192.168.20.0/24', '127.0.0.2', 'cloud-key');
  const refused = await livmap(['register', '--ms', `127.0.0.1:${serve.lispPort}`, '--eid', '192.168.20.0/24', '--rloc', '127.0.0.2', '--key', 'wrong', '--timeout', '300']);
  t.equal(refused.code, 1);

  const sites = await serve.cli(['sites']);
  t.equal(sites.code, 0, sites.stderr);
  t.match(sites.stdout, /\ncloud\s+192\.168\.20\.0\/24\+\s+1\s+1\s+1\s+hmac-sha1\n/, 'one auth failure, one xTR');
  t.match(sites.stdout, /\nSITE\s+XTR\s+FROM\s+STATE\s+REGS\s+LEFT\s+LAST REGISTER\n/);
  // Each `livmap register` is a burst of one: the ETR's later bursts no longer list its earlier
  // prefixes, which it has "left" (as with OOR, whose every burst lists all its mappings).
  const xtr = /\nlocal\s+rloc:127\.0\.0\.1\s+127\.0\.0\.1:\d+\s+registered\s+(\d+)\s+(\d+)\s+\d+s ago/.exec(sites.stdout);
  t.ok(xtr, sites.stdout);
  t.equal(Number(xtr?.[1]) + Number(xtr?.[2]), 5, 'five live registrations, listed or left');

  const local = JSON.parse((await serve.cli(['registrations', '--site', 'local', '--json'])).stdout) as { registrations: Array<{ site: string }>; total: number };
  t.equal(local.total, 5);
  t.ok(local.registrations.every((r) => r.site === 'local'));
  const paged = JSON.parse((await serve.cli(['registrations', '--page', '2', '--json'])).stdout) as { registrations: Array<{ eid: string }> };
  t.equal(paged.registrations.length, 6, 'three pages of 2 followed');
  t.equal(new Set(paged.registrations.map((r) => r.eid)).size, 6, 'no registration twice');
  const inside = JSON.parse((await serve.cli(['registrations', '--eid', '10.16.10.8/30', '--json'])).stdout) as { registrations: Array<{ eid: string }> };
  t.same(inside.registrations.map((r) => r.eid).sort(), ['10.16.10.10/32', '10.16.10.11/32']);
  const table = await serve.cli(['registrations', '--site', 'local', '--limit', '2']);
  t.match(table.stdout, /\n2 of 5 registrations\n$/);

  const cleared = await serve.cli(['clear', '10.16.10.10/32']);
  t.equal(cleared.code, 0, cleared.stderr);
  t.equal(cleared.stdout, 'removed 1 registration of 10.16.10.10/32\n');
  const again = await serve.cli(['clear', '10.16.10.10/32']);
  t.equal(again.code, 1, 'nothing to clear: exit 1');
  const byEtr = await serve.cli(['clear', '10.16.10.11/32', '--etr', '127.0.0.1', '--json']);
  t.same(JSON.parse(byEtr.stdout), { removed: 1 });

  const history = await serve.cli(['events', '--type', 'withdrawn']);
  t.equal(history.code, 0, history.stderr);
  const lines = history.stdout.trim().split('\n');
  t.equal(lines.length, 2);
  t.match(lines[0], /^#\d+ {2}\S+ {2}withdrawn +site local {2}10\.16\.10\.10\/32 {2}etr rloc:127\.0\.0\.1$/);
  const firstId = Number(/^#(\d+)/.exec(lines[0]!)![1]);
  const since = await serve.cli(['events', '--since', String(firstId), '--type', 'withdrawn', '--json']);
  t.same(since.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { eid: string }).eid), ['10.16.10.11/32']);

  const version = await livmap(['--version', '--api', serve.api]);
  t.equal(version.code, 0, version.stderr);
  t.match(version.stdout, new RegExp(`^livmap 0\\.1\\.0 \\(node v[\\d.]+\\)\\nserver at ${serve.api.replace(/\./g, '\\.')}: livmap 0\\.1\\.0 \\(node v[\\d.]+\\)\\n$`));
});
