// The processes of the netns scenario (simulations/netns/run.sh starts each one inside its
// namespace with `ip netns exec`):
//   ms    livmap (startService) on the underlay address, mobility on or off
//   xtr   an EmulatedXtr on its underlay RLOC; its site side is a TUN device served by tun.py
//         (raw IPv4 packets over UDP on 127.0.0.1), and it takes commands, one a line, from a FIFO:
//         "attach <eid>", "detach <eid> <keepRegisteringMs> [withdraw]"
//   echo  the VM: echoes UDP datagrams
//   probe   the correspondent: one UDP probe every interval, prints send times and RTTs as JSON
//   analyze the outage of each move from probe output and the move times run.sh recorded
// Every process stops by itself after --lifetime-ms (default 120 s), so nothing outlives a run.
import dgram from 'node:dgram';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { resolveConfig } from '../../mapserver/config/load.js';
import { startService } from '../../mapserver/service.js';
import { measureOutage, round, summarize, type Probe } from '../stats.js';
import { EmulatedXtr } from '../xtr.js';

type Args = Map<string, string[]>;

function parse(argv: readonly string[]): Args {
  const args: Args = new Map();
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]!;
    if (!key.startsWith('--')) throw new Error(`unexpected argument '${key}'`);
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${key} needs a value`);
    args.set(key.slice(2), [...(args.get(key.slice(2)) ?? []), value]);
    i++;
  }
  return args;
}

function one(args: Args, key: string, fallback?: string): string {
  const v = args.get(key)?.[0] ?? fallback;
  if (v === undefined) throw new Error(`--${key} is required`);
  return v;
}

function endpoint(text: string): { address: string; port: number } {
  const i = text.lastIndexOf(':');
  return { address: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

function lifetime(args: Args, stop: () => Promise<void> | void): void {
  const ms = Number(one(args, 'lifetime-ms', '120000'));
  const timer = setTimeout(() => void Promise.resolve(stop()).finally(() => process.exit(0)), ms);
  timer.unref();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void Promise.resolve(stop()).finally(() => process.exit(0)));
  }
  // Keep the process alive until the lifetime ends even if nothing else holds the loop.
  setInterval(() => {}, 1 << 30);
}

function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve(s));
  });
}

async function ms(args: Args): Promise<void> {
  const key = one(args, 'key');
  const dataDir = await mkdtemp(join(tmpdir(), 'livmap-netns-'));
  const config = resolveConfig({
    dataDir,
    lisp: { listen: [one(args, 'listen')] },
    api: { listen: '127.0.0.1:0', token: 'netns-simulation' },
    sites: (args.get('site') ?? []).map((s) => {
      const [name, eid] = s.split('=') as [string, string];
      return { name, keys: [{ alg: 'hmac-sha1', secret: key }], prefixes: [{ eid, acceptMoreSpecifics: true }] };
    }),
  });
  const service = await startService(config, { logger: pino({ level: 'silent' }), mobility: { enabled: one(args, 'mobility', 'on') === 'on' } });
  service.lisp.events.on('event', (e) => {
    if (e.type === 'moved') process.stdout.write(`${JSON.stringify({ at: Date.now(), moved: e.eid, smrs: e.smrs, notifies: e.notifies })}\n`);
  });
  process.stdout.write('ready\n');
  lifetime(args, () => service.close());
}

async function xtr(args: Args): Promise<void> {
  const name = one(args, 'name');
  const tun = endpoint(one(args, 'tun'));
  const local = await bindUdp('127.0.0.1', Number(one(args, 'site-port')));
  const x = await EmulatedXtr.start({
    name,
    rloc: one(args, 'rloc'),
    eidPrefixes: args.get('eid') ?? [],
    hosts: args.get('host') ?? [],
    mapServer: endpoint(one(args, 'ms')),
    key: one(args, 'key'),
    proxyReply: one(args, 'proxy-reply', 'no') === 'yes',
    timeScale: Number(one(args, 'time-scale', '1')),
    mapRequestRetryMs: 500,
    onEvent: (e) => {
      if (e.type !== 'register-sent') process.stdout.write(`${JSON.stringify({ at: Date.now(), xtr: e.xtr, type: e.type, detail: e.detail })}\n`);
    },
  });
  // The site side: decapsulated packets go to the TUN device (the kernel routes them to the VM
  // or local address), packets the kernel routed into the TUN device come back to be encapsulated.
  const toSite = (packet: Buffer): void => {
    local.send(packet, tun.port, tun.address);
  };
  x.siteForwarder = toSite;
  local.on('message', (packet) => x.send(packet));
  // Commands come through a FIFO: run.sh writes to it with a shell builtin, no process to spawn
  // in the middle of a move. Opened read-write (a writer closing it is no end of file) and
  // non-blocking as a libuv pipe: a blocking read would pin a threadpool thread and hang exit.
  const fifo = new Socket({ fd: openSync(one(args, 'ctl-fifo'), constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
  const commands = createInterface({ input: fifo });
  commands.on('line', (line) => {
    const [verb, eid, keep, withdraw] = line.trim().split(/\s+/);
    if (!eid) return;
    if (verb === 'attach') x.attachHost(eid, toSite);
    else if (verb === 'detach') x.detachHost(eid, { keepRegisteringMs: Number(keep ?? 0), withdraw: withdraw === 'withdraw' });
  });
  for (const host of args.get('host') ?? []) x.attachHost(host, toSite, { register: false });
  process.stdout.write('ready\n');
  lifetime(args, async () => {
    commands.close();
    fifo.destroy();
    await x.close();
    local.close();
  });
}

async function echo(args: Args): Promise<void> {
  const s = await bindUdp(one(args, 'bind', '0.0.0.0'), Number(one(args, 'port', '7000')));
  s.on('message', (bytes, rinfo) => s.send(bytes, rinfo.port, rinfo.address));
  process.stdout.write('ready\n');
  lifetime(args, () => new Promise<void>((resolve) => s.close(() => resolve())));
}

async function probe(args: Args): Promise<void> {
  const s = await bindUdp(one(args, 'bind'), 0);
  const to = endpoint(one(args, 'to'));
  const interval = Number(one(args, 'interval-ms', '1'));
  const duration = Number(one(args, 'duration-ms', '3000'));
  const probes: Probe[] = [];
  // performance.now() for spacing, anchored to the wall clock run.sh uses for the move time.
  const t0 = Date.now() - performance.now();
  s.on('message', (bytes) => {
    if (bytes.length < 4) return;
    const p = probes[bytes.readUInt32BE(0)];
    if (p && p.answeredAt === undefined) p.answeredAt = performance.now();
  });
  const payload = Buffer.alloc(16);
  const ticker = setInterval(() => {
    payload.writeUInt32BE(probes.length, 0);
    probes.push({ sentAt: performance.now() });
    s.send(payload, to.port, to.address);
  }, interval);
  await new Promise((r) => setTimeout(r, duration));
  clearInterval(ticker);
  await new Promise((r) => setTimeout(r, 100));
  s.close();
  // Wall-clock send times and which were answered; `analyze` places the move on them.
  process.stdout.write(
    `${JSON.stringify({
      intervalMs: interval,
      sendWall: probes.map((p) => round(t0 + p.sentAt, 3)),
      rttMs: probes.map((p) => (p.answeredAt === undefined ? null : round(p.answeredAt - p.sentAt, 3))),
    })}\n`,
  );
}

/** Reads probe output lines and move times (run.sh), prints the outage of each move as JSON. */
async function analyze(args: Args): Promise<void> {
  const runs = [];
  for (const spec of args.get('run') ?? []) {
    const [file, moveAt, moveDone, direction] = spec.split(',') as [string, string, string, string];
    const text = (await readFile(file, 'utf8')).trim().split('\n').pop() ?? '';
    const data = JSON.parse(text) as { sendWall: number[]; rttMs: Array<number | null> };
    const probes: Probe[] = data.sendWall.map((sentAt, i) => {
      const rtt = data.rttMs[i];
      return rtt === null || rtt === undefined ? { sentAt } : { sentAt, answeredAt: sentAt + rtt };
    });
    const outage = measureOutage(probes, Number(moveAt), 50);
    runs.push({
      direction,
      moveCommandsMs: round(Number(moveDone) - Number(moveAt)),
      downtimeMs: round(outage.downtimeMs),
      // From the end of the move (link in the new namespace, xTRs told) to the first answered probe.
      backAfterMoveDoneMs: outage.censored ? null : round(Math.max(0, outage.gapToMs - (Number(moveDone) - Number(moveAt)))),
      lostProbes: outage.lostProbes,
      censored: outage.censored,
      gapFromMs: round(outage.gapFromMs),
      gapToMs: round(outage.gapToMs),
      probesSent: probes.length,
      probesAnswered: probes.filter((p) => p.answeredAt !== undefined).length,
    });
  }
  const s = summarize(runs.map((r) => r.downtimeMs));
  const summary = { count: s.count, mean: round(s.mean), median: round(s.median), p95: round(s.p95), min: round(s.min), max: round(s.max) };
  const after = runs.flatMap((r) => (r.backAfterMoveDoneMs === null ? [] : [r.backAfterMoveDoneMs]));
  const a = summarize(after);
  process.stdout.write(`${JSON.stringify({
    downtime: 'longest interval between answered probes with lost probes between them (from 50 ms before the move), minus the probe spacing; includes the move itself (ip link set netns + xTR commands, moveCommandsMs)',
    summary,
    backAfterMoveDone: { count: a.count, median: round(a.median), mean: round(a.mean), p95: round(a.p95) },
    runs,
  }, null, 1)}\n`);
}

const roles: Record<string, (args: Args) => Promise<void>> = { ms, xtr, echo, probe, analyze };

const [role, ...rest] = process.argv.slice(2);
const run = role ? roles[role] : undefined;
if (!run) {
  process.stderr.write(`usage: daemon.js ms|xtr|echo|probe --option value ...\n`);
  process.exit(2);
}
run(parse(rest)).catch((err: unknown) => {
  process.stderr.write(`${role}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
