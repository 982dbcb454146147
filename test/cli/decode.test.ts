// Runs the real `bin/livmap decode` (the build npm test makes) in a temp working directory.
import t from 'tap';
import { livmap as runLivmap, type CliRun } from '../helpers/cli.js';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePcap, type PcapDatagram } from '../../mapserver/pcap/write.js';
import { readCapture } from '../../mapserver/pcap/read.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VECTORS = join(ROOT, 'test/vectors/oor');
let work = '';

t.before(() => {
  work = mkdtempSync(join(tmpdir(), 'livmap-cli-'));
});
t.teardown(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function livmap(...args: string[]): Promise<CliRun> {
  return runLivmap(args, { cwd: work });
}

t.test('help and usage errors', async (t) => {
  const help = await livmap('decode', '--help');
  t.equal(help.code, 0);
  t.match(help.stdout, /usage: livmap decode FILE\.\.\. \[--json \| --summary\] \[--key SECRET\]/);
  const verbs = await livmap('--help');
  t.match(verbs.stdout, /decode/);
  const none = await livmap('decode');
  t.equal(none.code, 2);
  t.match(none.stderr, /expected one or more capture files/);
  const bad = await livmap('decode', '--bogus', 'x.pcap');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /bogus/);
});

t.test('missing file and bad capture exit 2 with a clear message', async (t) => {
  const missing = await livmap('decode', join(work, 'nope.pcap'));
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope\.pcap: cannot read: ENOENT/);
  t.equal(missing.stdout, '');
  const garbage = join(work, 'garbage.pcap');
  writeFileSync(garbage, 'this is not a capture at all');
  const bad = await livmap('decode', garbage);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /garbage\.pcap: bad capture: capture header: not a pcap or pcapng file/);
  const truncated = join(work, 'truncated.pcap');
  const ping = readFileSync(join(VECTORS, '02-resolve-ping.pcap'));
  writeFileSync(truncated, ping.subarray(0, ping.length - 10));
  const cut = await livmap('decode', truncated);
  t.equal(cut.code, 2);
  t.match(cut.stderr, /bad capture: frame 10: packet data truncated/);
  const directory = await livmap('decode', work);
  t.equal(directory.code, 2);
  t.match(directory.stderr, /cannot read: EISDIR/);
});

t.test('02-resolve-ping: ECM, proxy Map-Reply and data packets', async (t) => {
  const run = await livmap('decode', join(VECTORS, '02-resolve-ping.pcap'));
  t.equal(run.code, 0);
  t.equal(run.stderr, '');
  const out = run.stdout;
  t.equal(out.match(/^Frame \d+: /gm)?.length, 10, 'ten frames');
  t.match(out, /^Frame 1: 2026-\d\d-\d\dT[\d:.]+Z \(\+0\.000000 s\) 10\.99\.0\.3:4342 -> 10\.99\.0\.2:4342, 64 bytes$/m);
  // Frame 1: the ECM with its inner headers and the Map-Request.
  const frame1 = section(out, 1);
  t.match(frame1, /^ {2}Encapsulated Control Message \(type 8\)$/m);
  t.match(frame1, /Flags: S=0 D=0/);
  t.match(frame1, /Inner IPv4: 10\.16\.10\.10 -> 192\.168\.20\.10, TTL 255/);
  t.match(frame1, /Inner UDP: 4342 -> 4342/);
  t.match(frame1, /^ {4}Map-Request \(type 1\)$/m);
  t.match(frame1, /Nonce: 0x8ff9656b4945b08f/);
  t.match(frame1, /Source EID: 10\.16\.10\.10/);
  t.match(frame1, /ITR-RLOCs: 1 \(IRC 0\)\n\s+ITR-RLOC: 10\.99\.0\.3/);
  t.match(frame1, /EID prefix: \[0\] 192\.168\.20\.10\/32/);
  // Frame 2: the MS's proxy Map-Reply (A=0, locator R only).
  const frame2 = section(out, 2);
  t.match(frame2, /^ {2}Map-Reply \(type 2\)$/m);
  t.match(frame2, /Nonce: 0x8ff9656b4945b08f/);
  t.match(frame2, /EID prefix: \[0\] 192\.168\.20\.0\/24/);
  t.match(frame2, /TTL: 10 min/);
  t.match(frame2, /Action: 0 \(no-action\), A=0/);
  t.match(frame2, /Locator 1: 10\.99\.0\.4\n\s+Priority 1, weight 100, multicast priority 255, multicast weight 0\n\s+Flags: L=0 p=0 R=1/);
  // Frame 6: the ETR's own Map-Reply (A=1, L=1 R=1).
  t.match(section(out, 6), /A=1 \(authoritative\)[\s\S]*Locator 1: 10\.99\.0\.3[\s\S]*Flags: L=1 p=0 R=1/);
  // Frames 3, 7-10: data.
  for (const n of [3, 7, 8, 9, 10]) {
    const data = section(out, n);
    t.match(data, /LISP data header\n\s+Flags: N=0 L=0 E=0 V=0 I=0/, `frame ${n} data header`);
    t.match(data, /Inner IPv4: .* ICMP echo (request|reply) \(type [08], code 0\) id 0x1bcf seq \d, TTL 63, 84 bytes/, `frame ${n} inner packet`);
  }
  t.match(section(out, 8), /192\.168\.20\.10 -> 10\.16\.10\.10, ICMP echo reply/);
});

function section(out: string, frame: number): string {
  const start = out.indexOf(`Frame ${frame}: `);
  const end = out.indexOf('\nFrame ', start + 1);
  return out.slice(start, end < 0 ? undefined : end);
}

t.test('--json: one parseable object per message', async (t) => {
  const run = await livmap('decode', '--json', join(VECTORS, '02-resolve-ping.pcap'));
  t.equal(run.code, 0);
  const lines = run.stdout.trimEnd().split('\n');
  t.equal(lines.length, 10);
  const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  t.same(objects.map((o) => o['frame']), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.match(objects[0], {
    frame: 1,
    source: '10.99.0.3',
    sourcePort: 4342,
    destination: '10.99.0.2',
    destinationPort: 4342,
    time: /^2026-.*Z$/,
    message: {
      type: 'ecm',
      security: false,
      inner: { version: 4, source: '10.16.10.10', destination: '192.168.20.10', sourcePort: 4342, destinationPort: 4342, ttl: 255 },
      message: {
        type: 'map-request',
        nonce: '0x8ff9656b4945b08f',
        sourceEid: { afi: 'ipv4', ip: '10.16.10.10' },
        itrRlocs: [{ afi: 'ipv4', ip: '10.99.0.3' }],
        records: [{ iid: 0, address: { afi: 'ipv4', ip: '192.168.20.10' }, length: 32 }],
      },
    },
  });
  t.match(objects[1], {
    message: {
      type: 'map-reply',
      nonce: '0x8ff9656b4945b08f',
      records: [{ ttl: 10, action: 0, authoritative: false, locators: [{ priority: 1, weight: 100, local: false, reachable: true, rloc: { ip: '10.99.0.4' } }] }],
    },
  });
  t.match(objects[2], { message: { type: 'data', header: { noncePresent: false, instanceIdPresent: false }, inner: { protocol: 1, icmp: { type: 8 } } } });
  const register = await livmap('decode', '--json', join(VECTORS, '01-register-notify.pcap'));
  const first = JSON.parse(register.stdout.split('\n')[0]!) as { message: { auth: { authData: string }; nonce: string } };
  t.equal(first.message.nonce, '0xffd90d6f762919dc');
  t.match(first.message.auth.authData, /^[0-9a-f]{40}$/, 'auth data as 20 bytes of hex');
});

t.test('every golden capture decodes, pcap and pcapng print the same', async (t) => {
  for (const name of readdirSync(VECTORS).filter((f) => f.endsWith('.pcap'))) {
    const classic = await livmap('decode', join(VECTORS, name));
    const ng = await livmap('decode', join(VECTORS, 'pcapng', `${name}ng`));
    t.equal(classic.code, 0, `${name} exits 0`);
    t.equal(classic.stderr, '', `${name}: nothing on stderr`);
    t.equal(ng.stdout, classic.stdout, `${name}: pcapng output is identical`);
    t.equal(classic.stdout.match(/^Frame \d+: /gm)?.length, readCapture(readFileSync(join(VECTORS, name))).length, `${name}: every frame printed`);
    if (name === '07-iid-lcaf.pcap') {
      t.match(classic.stdout, /EID prefix: \[7\] 172\.16\.31\.0\/24/);
      t.match(classic.stdout, /Source EID: \[7\] 172\.16\.31\.10/);
      t.match(classic.stdout, /EID prefix: \[7\] 0\.0\.0\.0\/1\n\s+TTL: 15 min\n\s+Action: 0 \(no-action\), A=1/);
    }
    if (name === '01-register-notify.pcap') {
      t.match(classic.stdout, /Map-Register \(type 3\)\n\s+Flags: P=1 S=0 I=0 R=0 M=1/);
      t.match(classic.stdout, /Authentication data \(20 bytes\): [0-9a-f]{40}/);
      t.match(classic.stdout, /Map-Notify \(type 4\)/);
    }
    if (name === '03-negative-map-reply.pcap') t.match(classic.stdout, /EID prefix: \[0\] 11\.16\.64\.0\/18[\s\S]*Action: 1 \(natively-forward\), A=1[\s\S]*Locators: 0 \(negative\)/);
    if (name === '04-smr-rloc-change.pcap') t.match(section(classic.stdout, 42), /Flags: A=0 M=0 P=0 S=1 .*\(SMR\)\n\s+Nonce: 0x0000000000000000/);
  }
});

t.test('a corrupted LISP payload: frame and offset on stderr, rest printed, exit 1', async (t) => {
  const frames = readCapture(readFileSync(join(VECTORS, '02-resolve-ping.pcap')));
  const datagram = (i: number, payload?: Uint8Array): PcapDatagram => {
    const f = frames[i]!;
    return { timestampMicros: f.timestampMicros, source: f.ip!.source, destination: f.ip!.destination, sourcePort: f.udp!.sourcePort, destinationPort: f.udp!.destinationPort, payload: payload ?? f.udp!.payload };
  };
  const reply = frames[1]!.udp!.payload;
  const badData = Buffer.from(frames[2]!.udp!.payload);
  badData[0] = 0x90; // N and V both set
  const capture = writePcap([
    datagram(0),
    datagram(1, reply.subarray(0, reply.length - 3)), // cut inside the locator address
    datagram(2, badData),
    datagram(5),
  ]);
  const file = join(work, 'corrupt.pcap');
  writeFileSync(file, capture);
  for (const json of [false, true]) {
    const run = json ? await livmap('decode', '--json', file) : await livmap('decode', file);
    t.equal(run.code, 1, 'exit 1');
    const errors = run.stderr.trimEnd().split('\n');
    t.equal(errors.length, 2, 'two malformed payloads reported');
    t.match(errors[0], /^frame 2: offset \d+: \S/);
    t.match(errors[1], /^frame 3: offset 0: N and V bits are both set$/);
    const offset = Number(/offset (\d+)/.exec(errors[0]!)![1]);
    t.ok(offset >= 28 && offset <= reply.length, `offset ${offset} is in the locator`);
    if (json) {
      const lines = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { frame: number });
      t.same(lines.map((l) => l.frame), [1, 4], 'the good messages are still printed');
    } else {
      t.match(run.stdout, /Frame 4: [\s\S]*Map-Reply/, 'the message after the bad ones is printed');
      t.match(section(run.stdout, 2), /Malformed LISP control message: offset \d+/);
    }
  }
});

t.test('several files, --summary one line per message, --key verifies each HMAC', async (t) => {
  const a = join(VECTORS, '01-register-notify.pcap');
  const b = join(VECTORS, '03-negative-map-reply.pcap');
  const summary = await livmap('decode', a, b, '--summary', '--key', 'lisp-interop-key');
  t.equal(summary.code, 0, summary.stderr);
  const lines = summary.stdout.trim().split('\n');
  t.equal(lines[0], `== ${a}`);
  t.match(lines[1], /^Frame 1 \d\d:\d\d:\d\d\.\d{6} 10\.99\.0\.4:4342 -> 10\.99\.0\.2:4342  Map-Register nonce 0x[0-9a-f]{16} 192\.168\.20\.0\/24  \[HMAC verified \(HMAC-SHA-1, full 20-byte digest\)\]$/);
  t.match(lines[2], /Map-Notify nonce .* \[HMAC verified \(HMAC-SHA-1, full 20-byte digest\)\]$/);
  t.ok(lines.includes(`== ${b}`), 'second file announced');
  const messages = lines.filter((l) => l.startsWith('Frame '));
  t.ok(messages.length >= 6, `${messages.length} one-line messages`);
  t.ok(messages.every((l) => !l.includes('\n')));

  const wrong = await livmap('decode', a, '--key', 'not-the-key');
  t.equal(wrong.code, 1, 'a failed HMAC is exit 1');
  t.equal(wrong.stdout.match(/HMAC: FAILED \(HMAC-SHA-1, full 20-byte digest\)/g)?.length, 4);

  const json = await livmap('decode', a, b, '--json', '--key', 'lisp-interop-key');
  const objects = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; hmac?: string });
  t.same([...new Set(objects.map((o) => o.file))], [a, b]);
  t.equal(objects.filter((o) => o.hmac === 'verified (HMAC-SHA-1, full 20-byte digest)').length, 4);

  // A missing file among good ones: reported, the others still decoded, exit 2.
  const partial = await livmap('decode', join(work, 'gone.pcap'), a, '--summary');
  t.equal(partial.code, 2);
  t.match(partial.stderr, /gone\.pcap: cannot read: ENOENT/);
  t.match(partial.stdout, /Map-Register nonce/);
  const both = await livmap('decode', a, '--json', '--summary');
  t.equal(both.code, 2);
});
