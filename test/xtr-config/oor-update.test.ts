// `livmap oor-update`: OOR 1.3's local API wire format, the verb's errors, and the verb driving a
// real OOR xTR (in a network namespace with its own /tmp) that registers with a real
// `livmap serve`, observed through livmap's REST API.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import {
  OOR_API_MAX_MESSAGE,
  OorApiError,
  decodeHeader,
  decodeResult,
  encodeHeader,
  encodeReplaceLocalDb,
  localEidsFromConf,
  localEidsXml,
  oorApiExchange,
  replaceLocalDatabase,
  type OorLocalEid,
} from '../../xtr-config/oor-api.js';
import { LIVMAP_BIN, livmap, runProcess } from '../helpers/cli.js';
import { apiGet, ciMustRun, daemon, oorPid, realOorMissing, sh, sleep, startOor, type Daemon } from '../helpers/netns.js';
import { GOLDEN_DIR } from './helpers.js';

// ZeroMQ ipc:// paths must fit a unix socket address (~107 bytes): tap's testdir is too deep.
function shortDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'lv-zmq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const site: OorLocalEid = { eidPrefix: '10.16.10.0/24', iid: 0, ttl: 10, locators: [{ kind: 'address', address: '10.99.0.3', priority: 1, weight: 100 }] };

t.test('request and reply encoding', async (t) => {
  const header = { device: 0, target: 4, operation: 0, type: 0, dataLength: 0x01020304 };
  t.same([...encodeHeader(header, 'LE')], [0, 4, 0, 0, 4, 3, 2, 1], 'length in little-endian host order');
  t.same([...encodeHeader(header, 'BE')], [0, 4, 0, 0, 1, 2, 3, 4], 'length in big-endian host order');
  t.same(decodeHeader(encodeHeader(header, 'LE'), 'LE'), header);

  const vm: OorLocalEid = { eidPrefix: '10.16.50.50/32', iid: 7, ttl: 1, locators: [{ kind: 'interface', interface: 'eth<0>', priority: 2, weight: 50 }] };
  const xml = localEidsXml([site, vm]);
  t.equal(
    xml,
    '<config><local-eids>' +
      '<local-eid><id>e0</id><eid-address><afi>ipv4</afi><ipv4>10.16.10.0</ipv4><mask>24</mask></eid-address>' +
      '<rlocs><rloc><name>r0</name><locator-address><afi>ipv4</afi><ipv4>10.99.0.3</ipv4></locator-address><priority>1</priority><weight>100</weight></rloc></rlocs>' +
      '<record-ttl>10</record-ttl></local-eid>' +
      '<local-eid><id>e1</id><eid-address><afi>ipv4</afi><ipv4>10.16.50.50</ipv4><mask>32</mask><instance-id>7</instance-id></eid-address>' +
      '<rlocs><rloc><name>r0</name><interface>eth&lt;0&gt;</interface><priority>2</priority><weight>50</weight></rloc></rlocs>' +
      '<record-ttl>1</record-ttl></local-eid>' +
      '</local-eids></config>',
    'the element names of OOR 1.3 API XML reader, text escaped',
  );
  const v6 = localEidsXml([{ eidPrefix: '2001:db8::/48', iid: 0, locators: [{ kind: 'address', address: '2001:db8:ffff::1', priority: 1, weight: 100 }] }]);
  t.match(v6, '<afi>ipv6</afi><ipv6>2001:db8::</ipv6><mask>48</mask>');
  t.notMatch(v6, 'record-ttl', 'no TTL element when the TTL is left to OOR');

  const request = encodeReplaceLocalDb([site], 'LE');
  t.same([...request.subarray(0, 4)], [0, 4, 0, 0], 'device xTR, target MAPDB, operation CREATE, type REQUEST');
  t.equal(request.readUInt32LE(4), request.length - 8, 'length field = XML bytes');
  t.equal(request.subarray(8).toString('utf8'), localEidsXml([site]));

  t.throws(() => encodeReplaceLocalDb([]), OorApiError, 'an empty database is refused');
  const many = Array.from({ length: 40 }, (_, i) => ({ ...site, eidPrefix: `10.16.${i}.0/24` }));
  t.throws(() => encodeReplaceLocalDb(many), { message: new RegExp(`OOR reads at most ${OOR_API_MAX_MESSAGE}`) }, 'more than OOR reads is refused, not truncated');
  t.throws(() => localEidsXml([{ ...site, eidPrefix: '10.16.10.0' }]), { message: /prefix length/ });
  t.throws(() => localEidsXml([{ ...site, locators: [{ kind: 'address', address: '10.99.0.3', priority: 256, weight: 1 }] }]), { message: /priority 256/ });
  t.throws(() => localEidsXml([{ ...site, locators: [] }]), { message: /no locator/ });

  const ok = Buffer.from([0, 4, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0]);
  const err = Buffer.from([0, 4, 0, 1, 4, 0, 0, 0, 1, 0, 0, 0]);
  t.equal(decodeResult(ok, 'LE').ok, true);
  t.equal(decodeResult(err, 'LE').ok, false);
  t.throws(() => decodeResult(Buffer.from([0, 4, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]), 'LE'), { message: /not RESULT/ });
  t.throws(() => decodeResult(Buffer.from([0, 4, 0, 1, 0, 0, 0, 0]), 'LE'), { message: /not a 4-byte result code/ });
  t.throws(() => decodeResult(Buffer.from([0, 4, 0, 1, 4, 0, 0, 0, 9, 0, 0, 0]), 'LE'), { message: /neither OK/ });
  t.throws(() => decodeResult(Buffer.from([0, 4]), 'LE'), { message: /shorter than its 8-byte header/ });
});

t.test('the database-mappings of a generated OOR config', async (t) => {
  const conf = checkOorXtrFile(readFileSync(join(GOLDEN_DIR, 'local-xtr.conf'), 'utf8')).conf!;
  t.same(localEidsFromConf(conf), [
    { eidPrefix: '10.16.10.0/24', iid: 0, ttl: 10, locators: [{ kind: 'address', address: '172.16.10.1', priority: 1, weight: 100 }] },
    { eidPrefix: '10.16.10.50/32', iid: 0, ttl: 1, locators: [{ kind: 'address', address: '172.16.10.1', priority: 1, weight: 100 }] },
  ]);
});

t.test('the verb without an OOR to talk to', async (t) => {
  const help = await livmap(['oor-update', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /usage: livmap oor-update --conf FILE/);
  t.match((await livmap(['--help'])).stdout, /oor-update/, 'listed among the verbs');
  const none = await livmap(['oor-update']);
  t.equal(none.code, 2);
  t.match(none.stderr, /--conf FILE \(or --eid with --rloc\) is required/);
  const both = await livmap(['oor-update', '--conf', 'x', '--eid', '10.0.0.0/8']);
  t.equal(both.code, 2);
  const badNudge = await livmap(['oor-update', '--conf', 'x', '--nudge', 'here']);
  t.equal(badNudge.code, 2);
  t.match(badNudge.stderr, /--nudge 'here'/);

  const dir = t.testdir({ 'bad.conf': 'operating-mode = xTR\nbogus = 1\n' });
  const missing = await livmap(['oor-update', '--conf', join(dir, 'nope.conf')]);
  t.equal(missing.code, 1);
  t.equal(missing.stderr, `livmap oor-update: cannot read ${join(dir, 'nope.conf')} (ENOENT)\n`, 'one clear line');
  const bad = await livmap(['oor-update', '--conf', join(dir, 'bad.conf')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /bad\.conf:2: no such option 'bogus'/);

  const noSocket = await livmap(['oor-update', '--conf', join(GOLDEN_DIR, 'local-xtr.conf'), '--api', `ipc://${join(dir, 'no-oor-here')}`, '--json']);
  t.equal(noSocket.code, 1);
  t.match(noSocket.stderr, /^livmap oor-update: no OOR API socket at .*no-oor-here: is oor running/);
  t.equal(noSocket.stderr.split('\n').length, 2, 'one line');
  t.match(JSON.parse(noSocket.stdout), { ok: false, error: /no OOR API socket/ });
});

t.test('a REP socket that never answers: bounded by --timeout', async (t) => {
  const zmq = await import('zeromq');
  const dir = shortDir(t);
  const silent = new zmq.Reply({ linger: 0 });
  const endpoint = `ipc://${join(dir, 'silent-oor')}`;
  await silent.bind(endpoint);
  t.teardown(() => silent.close());
  const started = performance.now();
  await t.rejects(replaceLocalDatabase([site], { endpoint, timeoutMs: 300 }), { message: /no reply from OOR .* within 300 ms/ });
  t.ok(performance.now() - started < 2000, 'gave up in time');
});

t.test('a REP socket that answers ERR and garbage', async (t) => {
  const zmq = await import('zeromq');
  const dir = shortDir(t);
  const fake = new zmq.Reply({ linger: 0 });
  const endpoint = `ipc://${join(dir, 'fake-oor')}`;
  await fake.bind(endpoint);
  t.teardown(() => fake.close());
  const requests: Buffer[] = [];
  const serve = (async () => {
    const replies = [encodeHeader({ device: 0, target: 4, operation: 0, type: 1, dataLength: 4 }), Buffer.from('garbage')];
    for (const reply of replies) {
      const [request] = (await fake.receive()) as [Buffer];
      requests.push(request);
      await fake.send(reply === replies[0] ? Buffer.concat([reply, Buffer.from([1, 0, 0, 0])]) : reply);
    }
  })();
  const refused = await replaceLocalDatabase([site], { endpoint, timeoutMs: 2000 });
  t.equal(refused.ok, false, 'ERR is reported as not OK');
  await t.rejects(oorApiExchange(encodeReplaceLocalDb([site]), { endpoint, timeoutMs: 2000 }).then((r) => decodeResult(r.reply)), OorApiError);
  await serve;
  t.same(requests[0], encodeReplaceLocalDb([site]), 'the request on the socket is exactly the encoded message');
});

// ---- With a real OOR -----------------------------------------------------------------------

const missing = realOorMissing();
const KEY = 'lisp-interop-key';
const TOKEN = 'oor-update-test-token';
const API = 'http://127.0.0.1:18080/api/v1';

interface RegistrationView {
  readonly eid: string;
  readonly source: string;
  /** Start of this ETR's current claim: for a fresh EID, its first Map-Register. */
  readonly claimedAt: string;
  readonly lastRefreshed: string;
  /** livmap's view: the ETR's latest burst no longer listed the prefix. */
  readonly left?: boolean;
}

function xtrConf(vms: readonly string[]): string {
  const mapping = (eid: string, ttl: number): string =>
    `database-mapping {\n  eid-prefix = ${eid}\n  iid = 0\n  ttl = ${ttl}\n  rloc-address {\n    address = 10.99.0.3\n    priority = 1\n    weight = 100\n  }\n}\n`;
  return [
    'debug = 0',
    'map-request-retries = 2',
    'operating-mode = xTR',
    'encapsulation = LISP',
    'map-resolver = { 10.99.0.2 }',
    `map-server {\n  address = 10.99.0.2\n  key-type = 1\n  key = "${KEY}"\n  proxy-reply = off\n}`,
    mapping('10.16.10.0/24', 10),
    ...vms.map((vm) => mapping(vm, 1)),
  ].join('\n');
}


async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

t.test('a real OOR 1.3 xTR takes a new database without restart', { skip: missing && !ciMustRun() ? `skipped: ${missing}` : false, timeout: 90_000 }, async (t) => {
  if (missing) {
    t.fail(`CI=true and the real-OOR test cannot run: ${missing}`);
    return;
  }
  const P = `lvu${process.pid}`;
  const MS = `${P}-ms`;
  const XTR = `${P}-x`;
  const daemons: Daemon[] = [];
  t.teardown(async () => {
    for (const d of daemons.reverse()) await d.stop();
    sh(`ip netns del ${MS} 2>/dev/null || true; ip netns del ${XTR} 2>/dev/null || true`);
  });
  sh(`ip netns add ${MS}
ip netns add ${XTR}
ip -n ${XTR} link add ul0 type veth peer name ul0 netns ${MS}
ip -n ${XTR} addr add 10.99.0.3/24 dev ul0
ip -n ${MS} addr add 10.99.0.2/24 dev ul0
for n in ${XTR} ${MS}; do ip -n $n link set lo up; ip -n $n link set ul0 up; done
ip -n ${XTR} route add default via 10.99.0.2`);

  const dir = t.testdir();
  const livmapConfig = join(dir, 'livmap.json');
  writeFileSync(
    livmapConfig,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      lisp: { listen: ['10.99.0.2:4342'] },
      api: { listen: '127.0.0.1:18080', token: TOKEN },
      sites: [{ name: 'local', keys: [{ alg: 'hmac-sha1', secret: KEY }], prefixes: [{ eid: '10.16.10.0/24', acceptMoreSpecifics: true }] }],
    }),
  );
  const serve = daemon('ip', ['netns', 'exec', MS, 'timeout', '85', process.execPath, LIVMAP_BIN, 'serve', '--config', livmapConfig]);
  daemons.push(serve);
  // The operator API comes up after the LISP sockets.
  await until('livmap serve to listen', 15_000, async () => (serve.output().includes('operator API listening') ? true : undefined));

  const baseConf = join(dir, 'xtr.conf');
  writeFileSync(baseConf, xtrConf([]));
  const oor = startOor(XTR, baseConf, 85);
  daemons.push(oor);
  const registrations = async (): Promise<RegistrationView[]> =>
    (await apiGet<{ registrations: RegistrationView[] }>(MS, API, TOKEN, '/registrations')).registrations;
  const find = (regs: readonly RegistrationView[], eid: string): RegistrationView | undefined => regs.find((r) => r.eid === eid);
  await until('OOR to register 10.16.10.0/24', 20_000, async () => find(await registrations(), '10.16.10.0/24'));
  const pid = oorPid(oor);
  // OOR's own /tmp, seen from here: entering its mount namespace would hide this checkout when it lives under /tmp.
  const socket = `/proc/${pid}/root/tmp/oor-ipc`;
  await until("OOR's API socket", 5000, async () => (existsSync(socket) ? true : undefined));

  const oorUpdate = (conf: string) => runProcess('nsenter', ['-t', String(pid), '-n', process.execPath, LIVMAP_BIN, 'oor-update', '--api', `ipc://${socket}`, '--conf', conf, '--json'], { timeoutMs: 15_000 });
  const latencies: number[] = [];
  const replies: number[] = [];
  const inVerb: number[] = [];
  for (let i = 1; i <= 5; i++) {
    // A fresh VM EID each time, so its registration's claimedAt is this update's first Map-Register.
    const vm = `10.16.10.${100 + i}/32`;
    const withVm = join(dir, `xtr-with-vm-${i}.conf`);
    writeFileSync(withVm, xtrConf([vm]));
    const verbStart = Date.now();
    const added = await oorUpdate(withVm);
    t.equal(added.code, 0, `update ${i} (add ${vm}) exits 0: ${added.stderr}`);
    const outcome = JSON.parse(added.stdout) as { ok: boolean; replyMs: number; startedAt: number; eids: string[] };
    t.same(outcome.eids, ['10.16.10.0/24', vm]);
    replies.push(outcome.replyMs);
    const reg = await until(`${vm} registered`, 3000, async () => find(await registrations(), vm));
    const latency = Date.parse(reg.claimedAt) - verbStart;
    latencies.push(latency);
    inVerb.push(Date.parse(reg.claimedAt) - outcome.startedAt);
    t.ok(latency >= 0 && latency < 2000, `${vm}: first Map-Register ${latency} ms after the verb started`);
    t.equal(reg.source.split(':')[0], '10.99.0.3', 'registered by the xTR');
    t.ok(oor.child.exitCode === null, 'OOR was not restarted');

    // Without the VM: OOR's next burst (at once) refreshes the site prefix and omits the VM.
    const removedAt = Date.now();
    const removed = await oorUpdate(baseConf);
    t.equal(removed.code, 0, `update ${i} (drop ${vm}) exits 0: ${removed.stderr}`);
    const burst = await until('the burst after the removal', 3000, async () => {
      const regs = await registrations();
      const s = find(regs, '10.16.10.0/24');
      return s && Date.parse(s.lastRefreshed) >= removedAt ? regs : undefined;
    });
    await sleep(200);
    const after = find(await registrations(), vm);
    t.ok(after === undefined || Date.parse(after.lastRefreshed) < removedAt, `${vm} is not in the burst after its removal`);
    if (after?.left !== undefined) {
      // livmap closes a burst after 250 ms of quiet and sweeps every second.
      const left = await until(`livmap to see ${vm} left out`, 3000, async () => (find(await registrations(), vm)?.left === true ? true : undefined)).catch(() => false);
      t.ok(left, 'livmap saw the burst leave it out');
    }
    t.ok(find(burst, '10.16.10.0/24'), 'the site prefix is');
  }
  const p50 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  t.comment(`oor-update process spawned -> first Map-Register carrying the new EID (ms): ${latencies.join(', ')}; p50 ${p50(latencies)}`);
  t.comment(`verb code started (after node's start-up) -> that Map-Register (ms): ${inVerb.join(', ')}; p50 ${p50(inVerb)}`);
  t.comment(`OOR API reply after the request (ms): ${replies.map((r) => r.toFixed(1)).join(', ')}`);
  t.ok(oor.child.exitCode === null, 'the same OOR process throughout');
});
