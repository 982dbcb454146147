// `livmap decode FILE... [--json | --summary] [--key SECRET]`: prints the LISP control messages (UDP 4342) and data headers
// (UDP 4341) of a pcap or pcapng capture, like `tshark -V` but with livmap's own codec.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';
import { CaptureError, readCapture, type CaptureFrame } from '../pcap/read.js';
import { decode, LispCodecError } from '../codec/index.js';
import { DataHeaderError, decodeDataPacket } from '../codec/data-header.js';
import { LISP_CONTROL_PORT, LISP_DATA_PORT } from '../codec/ports.js';
import { formatHostPort } from '../codec/text.js';
import { dataPacketToJson, describeDataPacket, describeMessage, hmacLabel, messageToJson, summarizeMessage, type JsonValue } from './format.js';

const USAGE = `usage: livmap decode FILE... [--json | --summary] [--key SECRET]

Prints every LISP message in captures (classic pcap or pcapng, as written by tcpdump,
tshark or Wireshark): control messages on UDP port 4342 as a tree, and the LISP data
header with a summary of the inner packet for UDP port 4341. Several files (or a shell
glob such as captures/*.pcap) are read one after the other.

options:
  --json          one JSON object per line per message (nonces and bytes as hex strings)
  --summary       one line per message: frame, time, endpoints, type, nonce, EID
  --key SECRET    check the HMAC of every Map-Register, Map-Notify and Map-Notify-Ack with
                  this shared key and say "verified" or "FAILED" per message
  -h, --help      print this help

exit status: 0 all messages decoded (and verified, with --key), 1 some LISP payload is
malformed (reported on stderr as "frame N: offset O: reason") or an HMAC failed,
2 a file cannot be read or is not a valid capture (the other files are still decoded).
`;

export const decodeVerb: Verb = {
  summary: 'print the LISP messages of pcap/pcapng captures',
  run,
};

async function run(args: string[]): Promise<number> {
  const parsed = verbArgs('decode', USAGE, {
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false }, summary: { type: 'boolean', default: false }, key: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) {
    process.stderr.write(`livmap decode: expected one or more capture files\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.json && parsed.values.summary) {
    process.stderr.write(`livmap decode: --json and --summary exclude each other\n\n${USAGE}`);
    return 2;
  }
  const mode: Mode = parsed.values.json ? 'json' : parsed.values.summary ? 'summary' : 'tree';
  const several = parsed.positionals.length > 1;
  let status = 0;
  for (const [i, file] of parsed.positionals.entries()) {
    if (several && mode !== 'json') await write([`${i ? '\n' : ''}== ${file}`]);
    status = Math.max(status, await decodeFile(file, mode, parsed.values.key, several));
  }
  return status;
}

type Mode = 'tree' | 'json' | 'summary';

async function decodeFile(file: string, mode: Mode, key: string | undefined, several: boolean): Promise<number> {
  let frames: CaptureFrame[];
  try {
    frames = readCapture(await readFile(file));
  } catch (error) {
    const detail = error instanceof CaptureError ? error.message : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    process.stderr.write(`livmap decode: ${file}: ${error instanceof CaptureError ? 'bad capture: ' : 'cannot read: '}${detail}\n`);
    return 2;
  }
  const out: string[] = [];
  let failed = 0;
  const first = frames[0]?.timestampMicros ?? 0;
  const where = several ? `${file}: ` : '';
  for (const frame of frames) {
    const result = decodeFrame(frame);
    if (!result) continue;
    if (result.kind === 'error') {
      failed++;
      process.stderr.write(`${where}frame ${frame.index}: offset ${result.offset}: ${result.reason}\n`);
      if (mode === 'tree') out.push(frameLine(frame, first), `  Malformed LISP ${result.what}: offset ${result.offset}: ${result.reason}`, '');
      if (mode === 'summary') out.push(`${frameHead(frame)}  malformed ${result.what}: ${result.reason}`);
      continue;
    }
    const check = key !== undefined && frame.udp ? checkAuth(frame.udp.payload, key) : undefined;
    if (check && !check.ok) failed++;
    if (mode === 'json') {
      const json = frameJson(frame, result.json) as Record<string, JsonValue>;
      out.push(JSON.stringify({ ...(several ? { file } : {}), ...json, ...(check ? { hmac: check.text } : {}) }));
    } else if (mode === 'summary') {
      out.push(`${frameHead(frame)}  ${result.summary}${check ? `  [HMAC ${check.text}]` : ''}`);
    } else {
      out.push(frameLine(frame, first), ...result.lines.map((line) => `  ${line}`));
      if (check) out.push(`  HMAC: ${check.text}`);
      out.push('');
    }
    // Flush as we go so large captures stream.
    if (out.length > 2000) await write(out.splice(0));
  }
  await write(out);
  return failed > 0 ? 1 : 0;
}

/**
 * The HMAC of an authenticated message checked with `secret`: RFC 9301 §5.6 computes it over the
 * whole message with the authentication data zeroed; a truncated digest (-96, -128) is its first
 * bytes. Undefined for messages that carry no authentication.
 */
export function checkAuth(payload: Uint8Array, secret: string): { ok: boolean; text: string } | undefined {
  const type = payload[0] === undefined ? 0 : payload[0] >> 4;
  if (type < 3 || type > 5 || payload.length < AUTH_DATA_OFFSET) return undefined;
  const algId = payload[AUTH_FIELD_OFFSET + 1]!;
  const length = (payload[AUTH_FIELD_OFFSET + 2]! << 8) | payload[AUTH_FIELD_OFFSET + 3]!;
  const hash = algId === 1 ? 'sha1' : algId === 2 ? 'sha256' : undefined;
  const label = hmacLabel(algId, length);
  if (algId === 0) return { ok: false, text: 'FAILED: the message is not authenticated (algorithm 0)' };
  if (!hash || !label) return { ok: false, text: `FAILED: ${length}-byte authentication data with algorithm ${algId} is not an HMAC this tool knows` };
  if (payload.length < AUTH_DATA_OFFSET + length) return { ok: false, text: 'FAILED: the message ends inside its authentication data' };
  const zeroed = Buffer.from(payload);
  zeroed.fill(0, AUTH_DATA_OFFSET, AUTH_DATA_OFFSET + length);
  const digest = createHmac(hash, secret).update(zeroed).digest().subarray(0, length);
  const ok = timingSafeEqual(digest, payload.subarray(AUTH_DATA_OFFSET, AUTH_DATA_OFFSET + length));
  return { ok, text: `${ok ? 'verified' : 'FAILED'} (${label})` };
}

/** Where the Map-Register / Map-Notify header keeps the key ID, algorithm and auth data length. */
const AUTH_FIELD_OFFSET = 12;
const AUTH_DATA_OFFSET = 16;

type FrameResult =
  | { kind: 'ok'; lines: string[]; json: JsonValue; summary: string }
  | { kind: 'error'; what: string; offset: number; reason: string };

/** The LISP content of a frame, or null when it is not a LISP datagram. */
export function decodeFrame(frame: CaptureFrame): FrameResult | null {
  const udp = frame.udp;
  if (!udp) return null;
  const ports = [udp.sourcePort, udp.destinationPort];
  const truncated = udp.truncated ? ' (payload truncated in the capture)' : '';
  if (ports.includes(LISP_CONTROL_PORT)) {
    try {
      const msg = decode(udp.payload);
      return { kind: 'ok', lines: describeMessage(msg), json: messageToJson(msg), summary: summarizeMessage(msg) };
    } catch (error) {
      if (error instanceof LispCodecError) return { kind: 'error', what: 'control message', offset: error.offset, reason: error.reason + truncated };
      throw error;
    }
  }
  if (ports.includes(LISP_DATA_PORT)) {
    try {
      const packet = decodeDataPacket(udp.payload);
      return { kind: 'ok', lines: describeDataPacket(packet), json: dataPacketToJson(packet), summary: `LISP data, ${describeDataPacket(packet).at(-1)!}` };
    } catch (error) {
      if (error instanceof DataHeaderError) return { kind: 'error', what: 'data header', offset: error.offset, reason: error.reason + truncated };
      throw error;
    }
  }
  return null;
}

function isoMicros(micros: number): string {
  const date = new Date(Math.floor(micros / 1000)).toISOString(); // 2026-11-24T13:27:36.627Z
  return `${date.slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
}

function endpoint(address: string | undefined, port: number): string {
  return formatHostPort(address ?? '?', port);
}

function frameLine(frame: CaptureFrame, first: number): string {
  const relative = ((frame.timestampMicros - first) / 1e6).toFixed(6);
  const udp = frame.udp!;
  return `Frame ${frame.index}: ${isoMicros(frame.timestampMicros)} (+${relative} s) ${endpoint(frame.ip?.source, udp.sourcePort)} -> ${endpoint(frame.ip?.destination, udp.destinationPort)}, ${udp.payload.length} bytes`;
}

/** `Frame 3 13:27:36.627123 10.0.0.1:4342 -> 10.0.0.2:4342`: the summary line's head. */
function frameHead(frame: CaptureFrame): string {
  const udp = frame.udp!;
  return `Frame ${frame.index} ${isoMicros(frame.timestampMicros).slice(11, 26)} ${endpoint(frame.ip?.source, udp.sourcePort)} -> ${endpoint(frame.ip?.destination, udp.destinationPort)}`;
}

function frameJson(frame: CaptureFrame, message: JsonValue): JsonValue {
  const udp = frame.udp!;
  return {
    frame: frame.index,
    time: isoMicros(frame.timestampMicros),
    timestampMicros: frame.timestampMicros,
    source: frame.ip?.source ?? null,
    sourcePort: udp.sourcePort,
    destination: frame.ip?.destination ?? null,
    destinationPort: udp.destinationPort,
    message,
  };
}

function write(lines: string[]): Promise<void> {
  if (lines.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    // A closed pipe (`livmap decode f | head`) is not an error worth a stack trace.
    process.stdout.write(`${lines.join('\n')}\n`, () => resolve());
  });
}
