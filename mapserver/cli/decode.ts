// `livmap decode FILE [--json]`: prints the LISP control messages (UDP 4342) and data headers
// (UDP 4341) of a pcap or pcapng capture, like `tshark -V` but with livmap's own codec.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Verb } from './main.js';
import { CaptureError, readCapture, type CaptureFrame } from '../pcap/read.js';
import { decode, LispCodecError } from '../codec/index.js';
import { DataHeaderError, decodeDataPacket } from '../codec/data-header.js';
import { dataPacketToJson, describeDataPacket, describeMessage, messageToJson, type JsonValue } from './format.js';

export const CONTROL_PORT = 4342;
export const DATA_PORT = 4341;

const USAGE = `usage: livmap decode FILE [--json]

Prints every LISP message in a capture (classic pcap or pcapng, as written by tcpdump,
tshark or Wireshark): control messages on UDP port 4342 as a tree, and the LISP data
header with a summary of the inner packet for UDP port 4341.

options:
  --json      one JSON object per line per message (nonces and bytes as hex strings)
  -h, --help  print this help

exit status: 0 all messages decoded, 1 some LISP payload is malformed (reported on stderr
as "frame N: offset O: reason"), 2 the file cannot be read or is not a valid capture.
`;

export const decodeVerb: Verb = {
  summary: 'print the LISP messages of a pcap/pcapng capture',
  run,
};

async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (error) {
    process.stderr.write(`livmap decode: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`livmap decode: expected one capture file, got ${parsed.positionals.length}\n\n${USAGE}`);
    return 2;
  }
  const file = parsed.positionals[0]!;
  let frames: CaptureFrame[];
  try {
    frames = readCapture(await readFile(file));
  } catch (error) {
    const detail = error instanceof CaptureError ? error.message : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
    process.stderr.write(`livmap decode: ${file}: ${error instanceof CaptureError ? 'bad capture: ' : 'cannot read: '}${detail}\n`);
    return 2;
  }
  const json = parsed.values.json === true;
  const out: string[] = [];
  let malformed = 0;
  const first = frames[0]?.timestampMicros ?? 0;
  for (const frame of frames) {
    const result = decodeFrame(frame);
    if (!result) continue;
    if (result.kind === 'error') {
      malformed++;
      process.stderr.write(`frame ${frame.index}: offset ${result.offset}: ${result.reason}\n`);
      if (!json) out.push(frameLine(frame, first), `  Malformed LISP ${result.what}: offset ${result.offset}: ${result.reason}`, '');
      continue;
    }
    if (json) {
      out.push(JSON.stringify(frameJson(frame, result.json)));
    } else {
      out.push(frameLine(frame, first), ...result.lines.map((line) => `  ${line}`), '');
    }
    // Flush as we go so large captures stream.
    if (out.length > 2000) await write(out.splice(0));
  }
  await write(out);
  return malformed > 0 ? 1 : 0;
}

type FrameResult =
  | { kind: 'ok'; lines: string[]; json: JsonValue }
  | { kind: 'error'; what: string; offset: number; reason: string };

/** The LISP content of a frame, or null when it is not a LISP datagram. */
export function decodeFrame(frame: CaptureFrame): FrameResult | null {
  const udp = frame.udp;
  if (!udp) return null;
  const ports = [udp.sourcePort, udp.destinationPort];
  const truncated = udp.truncated ? ' (payload truncated in the capture)' : '';
  if (ports.includes(CONTROL_PORT)) {
    try {
      const msg = decode(udp.payload);
      return { kind: 'ok', lines: describeMessage(msg), json: messageToJson(msg) };
    } catch (error) {
      if (error instanceof LispCodecError) return { kind: 'error', what: 'control message', offset: error.offset, reason: error.reason + truncated };
      throw error;
    }
  }
  if (ports.includes(DATA_PORT)) {
    try {
      const packet = decodeDataPacket(udp.payload);
      return { kind: 'ok', lines: describeDataPacket(packet), json: dataPacketToJson(packet) };
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
  return address?.includes(':') ? `[${address}]:${port}` : `${address ?? '?'}:${port}`;
}

function frameLine(frame: CaptureFrame, first: number): string {
  const relative = ((frame.timestampMicros - first) / 1e6).toFixed(6);
  const udp = frame.udp!;
  return `Frame ${frame.index}: ${isoMicros(frame.timestampMicros)} (+${relative} s) ${endpoint(frame.ip?.source, udp.sourcePort)} -> ${endpoint(frame.ip?.destination, udp.destinationPort)}, ${udp.payload.length} bytes`;
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
