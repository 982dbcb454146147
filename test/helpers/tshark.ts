// tshark as an independent oracle for what livmap puts on the wire.
//
//   if (!haveTshark()) t.skip(TSHARK_SKIP_REASON)
//   const frames = await tsharkDecode(writePcap(datagrams));
//   assertNoMalformed(frames);               // throws listing every malformed frame / expert error
//   field(frames[0].lisp[0], 'lisp.nonce')   // '0x8ff9656b4945b08f'
//
// Each frame gives its `lisp` layers outermost first (an ECM yields the ECM header layer, then
// the inner message), its `lisp-data` layer for UDP 4341, and its IP/UDP layers (an ECM adds
// the inner IP/UDP). Values are tshark's JSON strings; nested trees are objects keyed by
// field name, and a field that occurs several times at one level is an array (tshark
// --no-duplicate-keys), so use `nodes()`/`values()` which accept either shape.
import { spawnSync, execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TsharkValue = string | TsharkNode | TsharkValue[];
export interface TsharkNode {
  readonly [field: string]: TsharkValue;
}
/** One `lisp` protocol layer as tshark -T json prints it. */
export type TsharkLisp = TsharkNode;

export interface TsharkFrame {
  /** tshark's 1-based frame number. */
  readonly number: number;
  readonly lisp: TsharkLisp[];
  readonly lispData: TsharkNode | undefined;
  /** `ip` and `ipv6` layers, outermost first. */
  readonly ip: TsharkNode[];
  readonly udp: TsharkNode[];
  /** Malformed-packet markers and expert infos of error severity, as text. */
  readonly errors: string[];
  /** Expert infos of warning severity (tshark warns about some legal values). */
  readonly warnings: string[];
}

export const TSHARK_SKIP_REASON = 'tshark is not installed: skipping the tshark oracle checks';

let available: boolean | undefined;

/** Whether `tshark` can be run (checked once per process). */
export function haveTshark(): boolean {
  if (available === undefined) {
    const result = spawnSync('tshark', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    available = result.status === 0;
  }
  return available;
}

/** Whether the suite runs in CI (CI=true), where the independent checks must run. */
export const IN_CI = process.env.CI === 'true';

/**
 * The `skip` option of a test that needs tshark: false when tshark is installed. Under CI=true
 * a missing tshark is never a reason to skip: the test runs and fails (tsharkDecode cannot
 * start tshark), since .ci/run installs it and green CI must mean the oracle ran.
 */
export function tsharkSkip(): string | false {
  if (haveTshark() || IN_CI) return false;
  return TSHARK_SKIP_REASON;
}

/** Runs tshark on a capture and returns the LISP-relevant layers of every frame. */
export async function tsharkDecode(capture: Uint8Array, extraArgs: readonly string[] = []): Promise<TsharkFrame[]> {
  const dir = await mkdtemp(join(tmpdir(), 'livmap-tshark-'));
  const file = join(dir, 'capture.pcap');
  try {
    await writeFile(file, capture);
    const args = [
      '-r', file, '-n', '-T', 'json', '--no-duplicate-keys',
      // Checksums are verified so a wrong IP/UDP checksum (outer or ECM inner) is an expert error.
      '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-J', 'frame ip ipv6 udp lisp lisp-data _ws.malformed _ws.expert',
      ...extraArgs,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('tshark', args, { maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } }, (error, out, err) => {
        if (error) reject(new Error(`tshark failed: ${error.message}\n${err}`));
        else resolve(out);
      });
    });
    const packets: unknown = JSON.parse(stdout);
    if (!Array.isArray(packets)) throw new Error('tshark did not print a JSON array');
    return packets.map((packet: unknown, i) => toFrame(packet, i + 1));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isNode(value: unknown): value is TsharkNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toFrame(packet: unknown, number: number): TsharkFrame {
  const source = isNode(packet) ? packet['_source'] : undefined;
  const layers = isNode(source) && isNode(source['layers']) ? source['layers'] : {};
  const errors: string[] = [];
  const warnings: string[] = [];
  collectExperts(layers, errors, warnings);
  if (layers['_ws.malformed'] !== undefined) errors.push('Malformed Packet');
  return {
    number,
    lisp: nodes(layers, 'lisp'),
    lispData: nodes(layers, 'lisp-data')[0],
    // Keys keep their first-appearance order, so outer IPv6 + inner IPv4 lists ipv6 first.
    ip: Object.keys(layers).filter((key) => key === 'ip' || key === 'ipv6').flatMap((key) => nodes(layers, key)),
    udp: nodes(layers, 'udp'),
    errors: [...new Set(errors)],
    warnings: [...new Set(warnings)],
  };
}

// Wireshark expert severities (epan/proto.h PI_WARN / PI_ERROR).
const SEVERITY_WARN = 0x00600000;
const SEVERITY_ERROR = 0x00800000;

function collectExperts(value: TsharkValue, errors: string[], warnings: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectExperts(item, errors, warnings);
    return;
  }
  if (!isNode(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === '_ws.expert') {
      for (const expert of nodes(value, key)) {
        const severity = Number(field(expert, '_ws.expert.severity') ?? 0);
        const message = field(expert, '_ws.expert.message') ?? JSON.stringify(expert);
        if (severity >= SEVERITY_ERROR) errors.push(message);
        else if (severity >= SEVERITY_WARN) warnings.push(message);
      }
    }
    collectExperts(child, errors, warnings);
  }
}

/** Every occurrence of `name` directly under `node` that is a subtree. */
export function nodes(node: TsharkNode | undefined, name: string): TsharkNode[] {
  const value = node?.[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter(isNode);
}

/** Every string value of `name` directly under `node`. */
export function values(node: TsharkNode | undefined, name: string): string[] {
  const value = node?.[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** The single string value of `name` under `node` (the first one if repeated). */
export function field(node: TsharkNode | undefined, name: string): string | undefined {
  return values(node, name)[0];
}

/** `field` as a number (tshark prints hex fields as `0x...`); undefined when absent. */
export function numberField(node: TsharkNode | undefined, name: string): number | undefined {
  const text = field(node, name);
  return text === undefined ? undefined : Number(text);
}

/** Searches the whole subtree for the first value of `name` (for fields nested in `_tree` nodes). */
export function deepField(node: TsharkValue | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === 'string') return undefined;
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = deepField(item, name);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const direct = node[name];
  if (typeof direct === 'string') return direct;
  if (Array.isArray(direct) && typeof direct[0] === 'string') return direct[0];
  for (const child of Object.values(node)) {
    const found = deepField(child, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Frames tshark flags as malformed or with expert errors, as `frame N: problem` lines. */
export function malformedFrames(frames: readonly TsharkFrame[]): string[] {
  return frames.flatMap((frame) => frame.errors.map((error) => `frame ${frame.number}: ${error}`));
}

/** Throws an Error listing every malformed frame; returns quietly when tshark found none. */
export function assertNoMalformed(frames: readonly TsharkFrame[]): void {
  const problems = malformedFrames(frames);
  if (problems.length > 0) throw new Error(`tshark found malformed packets:\n${problems.slice(0, 50).join('\n')}`);
}
