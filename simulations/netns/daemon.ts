// The helper processes of the netns scenario (simulations/netns/run.sh starts each one inside its
// namespace with `ip netns exec`; livmap itself runs as `bin/livmap serve`):
//   xtr     an EmulatedXtr on its underlay RLOC (--xtr emulated); its site side is a TUN device
//           served by tun.py (raw IPv4 packets over UDP on 127.0.0.1), and it takes commands, one a
//           line, from a FIFO: "attach <eid>", "detach <eid>". Like OOR it never withdraws: a
//           detached VM just stops appearing in its register bursts.
//   echo    the VM: echoes UDP datagrams
//   probe   the correspondent: one UDP probe every interval until --duration-ms or SIGTERM, then
//           prints send times and RTTs as JSON
//   warmup  probes every 10 ms until one is answered (the first resolution), exit 1 on timeout
//   http    one REST call to livmap's API (GET or POST with a JSON body), prints the reply
//   replay  sends the bytes of a file as one UDP datagram from a given address (a captured Map-Register)
// Every long-lived process stops by itself after --lifetime-ms (default 120 s).
import dgram from 'node:dgram';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { round, type Probe } from '../stats.js';
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
    const [verb, eid] = line.trim().split(/\s+/);
    if (!eid) return;
    if (verb === 'attach') x.attachHost(eid, toSite);
    else if (verb === 'detach') x.detachHost(eid);
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
  // A send can fail while the VM's route changes under it (no neighbour yet, ENOBUFS): that probe
  // is lost like any unanswered one and counted; without the callback the error would end the probe.
  let sendErrors = 0;
  const counted = (err: Error | null): void => {
    if (err) sendErrors++;
  };
  const ticker = setInterval(() => {
    payload.writeUInt32BE(probes.length, 0);
    probes.push({ sentAt: performance.now() });
    s.send(payload, to.port, to.address, counted);
  }, interval);
  // Until --duration-ms, or until run.sh ends the series with SIGTERM (the log is written either way).
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, duration);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        clearTimeout(timer);
        resolve();
      });
    }
  });
  clearInterval(ticker);
  await new Promise((r) => setTimeout(r, 100));
  s.close();
  // Wall-clock send times and which were answered; `analyze` places the move on them.
  process.stdout.write(
    `${JSON.stringify({
      intervalMs: interval,
      sendWall: probes.map((p) => round(t0 + p.sentAt, 3)),
      rttMs: probes.map((p) => (p.answeredAt === undefined ? null : round(p.answeredAt - p.sentAt, 3))),
      sendErrors,
    })}\n`,
  );
}

/** Probes every 10 ms until one probe is answered; exit 1 after --timeout-ms. */
async function warmup(args: Args): Promise<void> {
  const s = await bindUdp(one(args, 'bind'), 0);
  const to = endpoint(one(args, 'to'));
  const timeoutMs = Number(one(args, 'timeout-ms', '15000'));
  const started = performance.now();
  const answered = new Promise<void>((resolve) => s.once('message', () => resolve()));
  // A failed send is one lost warm-up probe (the next goes 10 ms later), not the end of the warm-up.
  const ticker = setInterval(() => s.send(Buffer.alloc(16), to.port, to.address, () => {}), 10);
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  const outcome = await Promise.race([answered, timeout]);
  clearInterval(ticker);
  s.close();
  if (outcome === 'timeout') {
    process.stderr.write(`warmup: no answer from ${one(args, 'to')} within ${timeoutMs} ms\n`);
    process.exit(1);
  }
  process.stdout.write(`answered after ${round(performance.now() - started)} ms\n`);
}

/** One call to livmap's REST API: --method GET|POST --url URL --token-file FILE [--body JSON]. */
async function http(args: Args): Promise<void> {
  const token = (await readFile(one(args, 'token-file'), 'utf8')).trim();
  const method = one(args, 'method', 'GET');
  const body = args.get('body')?.[0];
  const reply = await fetch(one(args, 'url'), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(Number(one(args, 'timeout-ms', '5000'))),
  });
  const text = await reply.text();
  process.stdout.write(`${text}\n`);
  if (!reply.ok) {
    process.stderr.write(`http: ${method} ${one(args, 'url')}: ${reply.status}\n`);
    process.exit(1);
  }
}

/** Sends a file's bytes as one UDP datagram: --bind ADDR --to ADDR:PORT --file FILE [--port SRCPORT]. */
async function replay(args: Args): Promise<void> {
  const bytes = await readFile(one(args, 'file'));
  const s = await bindUdp(one(args, 'bind'), Number(one(args, 'port', '0')));
  const to = endpoint(one(args, 'to'));
  await new Promise<void>((resolve, reject) => s.send(bytes, to.port, to.address, (err) => (err ? reject(err) : resolve())));
  s.close();
  process.stdout.write(`sent ${bytes.length} bytes to ${one(args, 'to')}\n`);
}

const roles: Record<string, (args: Args) => Promise<void>> = { xtr, echo, probe, warmup, http, replay };

const [role, ...rest] = process.argv.slice(2);
const run = role ? roles[role] : undefined;
if (!run) {
  process.stderr.write(`usage: daemon.js xtr|echo|probe|warmup|http|replay --option value ...\n`);
  process.exit(2);
}
run(parse(rest)).catch((err: unknown) => {
  process.stderr.write(`${role}: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
