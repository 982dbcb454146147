// kill -9 in the middle of a burst of API writes and Map-Registers: after a restart, every write
// that got a 2xx or a Map-Notify is there, and the store opens without repair.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from '../../mapserver/codec/index.js';
import { mapRegisterBytes, nonce } from '../helpers/lisp.js';
import { UdpPeer, freeTcpPort, freeUdpPort } from '../helpers/udp.js';

const BIN = fileURLToPath(new URL('../../bin/livmap', import.meta.url));
const TOKEN = 'crash-test-token';

function serve(config: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start:\n${out}`)), 15_000);
    const check = setInterval(() => {
      if (out.includes('operator API listening')) {
        clearTimeout(timer);
        clearInterval(check);
        resolve({ child, output: () => out });
      }
    }, 20);
    child.once('exit', (code) => { clearTimeout(timer); clearInterval(check); reject(new Error(`exited ${code}:\n${out}`)); });
  });
}

t.test('acknowledged writes survive kill -9', async (t) => {
  const dir = t.testdir();
  const port = await freeUdpPort();
  const apiPort = await freeTcpPort();
  const config = join(dir, 'livmap.json');
  writeFileSync(config, JSON.stringify({
    dataDir: join(dir, 'data'),
    lisp: { listen: [`127.0.0.1:${port}`] },
    api: { listen: `127.0.0.1:${apiPort}`, token: TOKEN },
    sites: [{ name: 'local', keys: [{ alg: 'hmac-sha1', secret: 'lisp-interop-key' }], prefixes: [{ eid: '10.16.0.0/16', acceptMoreSpecifics: true }] }],
  }));
  const api = `http://127.0.0.1:${apiPort}/api/v1`;
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  let server = await serve(config);
  const etr = await UdpPeer.bind('127.0.8.1');
  t.teardown(() => etr.close());

  const ackedSites: string[] = [];
  const ackedRegistrations = new Set<string>();
  const pending = new Map<bigint, string>();
  let stop = false;
  const apiWriter = (async () => {
    for (let i = 0; i < 255 && !stop; i++) {
      const name = `s${i}`;
      const body = JSON.stringify({ name, keys: [{ alg: 'hmac-sha256', secret: `k${i}` }], prefixes: [{ eid: `172.20.${i}.0/24` }] });
      const res = await fetch(`${api}/sites/${name}`, { method: 'PUT', headers, body }).catch(() => undefined);
      if (res && res.status >= 200 && res.status < 300) ackedSites.push(name);
    }
  })();
  const registrar = (async () => {
    for (let i = 0; i < 5000 && !stop; i++) {
      const eid = `10.16.${i >> 8}.${i & 255}/32`;
      const n = nonce();
      pending.set(n, eid);
      await etr.send(mapRegisterBytes({ eid, rlocs: ['127.0.8.1'], nonce: n }), { address: '127.0.0.1', port });
      // Pace the burst so the server acknowledges while it runs (the kill must land mid-burst).
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  })();
  // Collect Map-Notifies as they come, until the kill.
  const collector = (async () => {
    while (!stop) {
      const d = await etr.receive(50).catch(() => undefined);
      if (!d) continue;
      const m = decode(d.bytes);
      if (m.type === 'map-notify' && pending.has(m.nonce)) ackedRegistrations.add(pending.get(m.nonce)!);
    }
  })();
  // Let the burst run, then pull the plug mid-write (bounded: the test fails rather than hangs).
  const deadline = Date.now() + 30_000;
  while ((ackedSites.length < 20 || ackedRegistrations.size < 200) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  // Listen for the exit before the kill: it may come before the writers have wound down.
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGKILL');
  stop = true;
  await Promise.all([apiWriter, registrar, collector, exited]);
  t.ok(ackedSites.length >= 20 && ackedRegistrations.size >= 200, `${ackedSites.length} site writes and ${ackedRegistrations.size} registrations acknowledged before the kill`);

  server = await serve(config);
  t.teardown(() => { server.child.kill('SIGKILL'); });
  t.notMatch(server.output(), /corrupt store entry|repair/i, 'the store opened cleanly');
  const sites = ((await (await fetch(`${api}/sites`, { headers })).json()) as { sites: Array<{ name: string }> }).sites.map((s) => s.name);
  const missingSites = ackedSites.filter((s) => !sites.includes(s));
  t.same(missingSites, [], 'every 2xx site write is present');
  // Every page of the registrations (1000 a page, following the cursor).
  const have = new Set<string>();
  for (let cursor = ''; ;) {
    const page = (await (await fetch(`${api}/registrations?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers })).json()) as { registrations: Array<{ eid: string }>; nextCursor?: string };
    for (const r of page.registrations) have.add(r.eid);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const missing = [...ackedRegistrations].filter((eid) => !have.has(eid));
  t.same(missing, [], 'every registration that got a Map-Notify is present');
});
