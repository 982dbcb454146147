// `livmap serve --workers N`: the flag overrides lisp.workers; the threads share the port, and
// SIGTERM closes them all.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decode } from '../../mapserver/codec/index.js';
import { LIVMAP_BIN, killed, livmap } from '../helpers/cli.js';
import { ecmRequestBytes } from '../helpers/lisp.js';
import { freeTcpPort, freeUdpPort, UdpPeer } from '../helpers/udp.js';

const SERVER = '127.0.77.200';

t.test('--workers must be a whole number from 1 to 256', async (t) => {
  for (const bad of ['0', '2.5', 'many', '257']) {
    const run = await livmap(['serve', '--workers', bad]);
    t.equal(run.code, 2, `--workers ${bad} is refused`);
    t.match(run.stderr, /--workers must be an integer from 1 to 256/);
  }
});

t.test('serve --workers 2 answers on two threads bound to one port and stops cleanly', async (t) => {
  const dir = t.testdir();
  const port = await freeUdpPort(SERVER);
  const config = { dataDir: join(dir, 'data'), lisp: { listen: [`${SERVER}:${port}`], workers: 1 }, api: { listen: `127.0.0.1:${await freeTcpPort()}` } };
  writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [LIVMAP_BIN, 'serve', '--config', join(dir, 'c.json'), '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  t.teardown(() => void killed(child, 'SIGKILL'));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('LISP control plane listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const listening = out.split('\n').find((l) => l.includes('LISP control plane listening'));
  t.match(JSON.parse(listening!), { workers: 2 }, 'the flag overrides lisp.workers: 1');
  // 30 sources: both sockets answer (the demo config's negative answer for an unregistered site).
  const itrs = await Promise.all(Array.from({ length: 30 }, () => UdpPeer.bind('127.0.77.201')));
  t.teardown(() => Promise.all(itrs.map((p) => p.close())));
  const kinds = await Promise.all(itrs.map(async (itr) => {
    await itr.send(ecmRequestBytes({ eid: '10.16.10.1', sourceEid: '192.168.20.9', itr: itr.local.address, port: itr.local.port }), { address: SERVER, port });
    return decode((await itr.receive(3000)).bytes).type;
  }));
  t.same(kinds, itrs.map(() => 'map-reply'), 'every source answered');
  // The API starts listening just after the LISP sockets.
  let metrics = '';
  for (let tries = 0; !metrics && tries < 50; tries++) {
    metrics = await fetch(`http://${config.api.listen}/metrics`).then((r) => r.text(), async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return '';
    });
  }
  const spread = [...metrics.matchAll(/livmap_worker_map_requests_total\{worker="(\d)"\} (\d+)/g)].map((m) => Number(m[2]));
  t.equal(spread.length, 2, 'two threads');
  t.ok(spread.every((n) => n > 0), `both answered (${spread.join(', ')})`);
  t.equal(await killed(child, 'SIGTERM'), 0, 'SIGTERM stops the threads and exits 0');
  const reuse = await UdpPeer.bind(SERVER, port);
  await reuse.close();
  t.pass('the port is free again');
});
