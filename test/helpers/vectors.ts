// The OOR golden captures as LISP control messages with their endpoints.
import { readFileSync } from 'node:fs';
import { decode } from '../../mapserver/codec/index.js';
import type { LispMessage } from '../../mapserver/codec/types.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { readCapture } from '../../mapserver/pcap/read.js';

export const VECTOR_DIR = new URL('../vectors/oor/', import.meta.url);

export interface ControlFrame {
  readonly index: number;
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly bytes: Uint8Array;
  readonly message: LispMessage;
}

/** Every UDP 4342 frame of `name` (e.g. '01-register-notify.pcap'), decoded. */
export function controlFrames(name: string): ControlFrame[] {
  const frames = readCapture(readFileSync(new URL(name, VECTOR_DIR)));
  const out: ControlFrame[] = [];
  for (const frame of frames) {
    if (!frame.ip || !frame.udp) continue;
    if (frame.udp.sourcePort !== 4342 && frame.udp.destinationPort !== 4342) continue;
    out.push({
      index: frame.index,
      from: { address: frame.ip.source, port: frame.udp.sourcePort },
      to: { address: frame.ip.destination, port: frame.udp.destinationPort },
      bytes: frame.udp.payload,
      message: decode(frame.udp.payload),
    });
  }
  return out;
}

export function frame(frames: readonly ControlFrame[], index: number): ControlFrame {
  const found = frames.find((f) => f.index === index);
  if (!found) throw new Error(`no control frame ${index}`);
  return found;
}
