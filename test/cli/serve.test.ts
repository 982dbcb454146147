// `livmap serve` tells the operator what it could not do as configured: config keys it does not
// know (allowed, but a misspelt setting would otherwise fall back to its default in silence),
// and a UDP receive buffer the kernel granted smaller than asked.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killed, startServe } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/udp.js';

/** net.core.rmem_max (Linux): SO_RCVBUF requests above it are cut to it. */
function rmemMax(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return undefined;
  }
}

interface LogLine { level: number; msg: string; key?: string; asked?: number; granted?: number }
const logLines = (output: string): LogLine[] =>
  output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

t.test('unknown config keys are reported by name; comment keys and known ones are not', async (t) => {
  const dir = t.testdir();
  const config = {
    comment: 'a note to the next operator',
    dataDir: join(dir, 'data'),
    lisp: { listen: [`127.0.0.1:${await freeUdpPort()}`], ratelimit: { perSecond: 10 } },
    api: { listen: `127.0.0.1:${await freeTcpPort()}`, tokn: 'xxxxxxxx' },
    mobilty: { enabled: false },
  };
  writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
  const child = await startServe(join(dir, 'c.json'));
  t.teardown(() => void killed(child, 'SIGKILL'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const warned = logLines(child.output()).filter((l) => l.level === 40 && l.key !== undefined).map((l) => l.key);
  t.same(warned.sort(), ['api.tokn', 'lisp.ratelimit', 'mobilty']);
  t.match(child.output(), /config key 'lisp\.ratelimit' is not a livmap setting and is ignored \(misspelt\?\)/);
  t.equal(await killed(child, 'SIGTERM'), 0);
});

const max = rmemMax();
t.test('a receive buffer the kernel cut is reported with the sysctl to raise', { skip: max === undefined || max >= 1 << 29 ? 'no net.core.rmem_max below 512 MiB here' : false }, async (t) => {
  const dir = t.testdir();
  const asked = 2 * max! + 4096; // Linux grants at most 2 × rmem_max
  const config = { dataDir: join(dir, 'data'), lisp: { listen: [`127.0.0.1:${await freeUdpPort()}`], receiveBufferBytes: asked }, api: { listen: `127.0.0.1:${await freeTcpPort()}` } };
  writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
  const child = await startServe(join(dir, 'c.json'));
  t.teardown(() => void killed(child, 'SIGKILL'));
  const warning = logLines(child.output()).find((l) => l.msg.startsWith('UDP receive buffer capped'));
  t.ok(warning, 'warned');
  t.equal(warning?.asked, asked);
  t.equal(warning?.granted, 2 * max!);
  t.match(warning?.msg, new RegExp(`sysctl -w net.core.rmem_max=${asked}`));
  t.equal(await killed(child, 'SIGTERM'), 0);
});

t.test('a receive buffer within the limit is granted in full, without a warning', { skip: max === undefined ? 'no /proc/sys/net/core/rmem_max' : false }, async (t) => {
  const dir = t.testdir();
  const asked = Math.min(max!, 1 << 20);
  const config = { dataDir: join(dir, 'data'), lisp: { listen: [`127.0.0.1:${await freeUdpPort()}`], receiveBufferBytes: Math.max(asked, 65_536) }, api: { listen: `127.0.0.1:${await freeTcpPort()}` } };
  writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
  const child = await startServe(join(dir, 'c.json'));
  t.teardown(() => void killed(child, 'SIGKILL'));
  t.notMatch(child.output(), /UDP receive buffer capped/);
  t.equal(await killed(child, 'SIGTERM'), 0);
});
