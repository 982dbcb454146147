// One request/answer exchange over UDP for the CLI tools: send, then wait for the LISP message
// of the expected type carrying our nonce, ignoring anything else that arrives.
import type dgram from 'node:dgram';
import { LispCodecError, decode } from '../codec/index.js';
import type { LispMessage, MapNotify, MapReply } from '../codec/types.js';

interface Answers {
  'map-reply': MapReply;
  'map-notify': MapNotify;
}

export interface Answer<T extends LispMessage> {
  readonly message: T;
  readonly bytes: Buffer;
  readonly from: { readonly address: string; readonly port: number };
  readonly rttMs: number;
}

export function exchange<K extends 'map-reply' | 'map-notify'>(
  socket: dgram.Socket,
  send: () => void,
  type: K,
  nonce: bigint,
  timeoutMs: number,
): Promise<Answer<Answers[K]> | undefined> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    function onMessage(bytes: Buffer, rinfo: dgram.RemoteInfo): void {
      let message: LispMessage;
      try {
        message = decode(bytes);
      } catch (err) {
        if (err instanceof LispCodecError) return;
        throw err;
      }
      if (message.type !== type || !('nonce' in message) || message.nonce !== nonce) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve({
        message: message as Answers[K],
        bytes,
        from: { address: rinfo.address, port: rinfo.port },
        rttMs: Number(process.hrtime.bigint() - started) / 1e6,
      });
    }
    socket.on('message', onMessage);
    send();
  });
}
