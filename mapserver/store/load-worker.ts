// Reads every entry of a closed store on a worker thread and streams them to the main thread in
// large transferred chunks. At cold start, turning a million LevelDB entries into JavaScript
// values (a key string and a Buffer each) costs the main thread as much as decoding them; here
// it runs on the other core while the main thread decodes and builds the database.
//
// Chunk layout: repeated [u32 key length][key UTF-8][u32 value length][value].
import { parentPort, workerData } from 'node:worker_threads';
import { Level } from 'level';
import { forEachEntry } from './entries.js';

export interface LoadWorkerData {
  readonly dir: string;
}

export type LoadWorkerMessage =
  | { readonly kind: 'chunk'; readonly bytes: Uint8Array; readonly length: number }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string };

const CHUNK_BYTES = 1 << 20;

async function run(port: NonNullable<typeof parentPort>, { dir }: LoadWorkerData): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: false });
  await db.open();
  const encoder = new TextEncoder();
  let bytes = new Uint8Array(CHUNK_BYTES);
  let view = new DataView(bytes.buffer);
  let length = 0;
  const flush = (): void => {
    const message: LoadWorkerMessage = { kind: 'chunk', bytes, length };
    port.postMessage(message, [bytes.buffer]);
    bytes = new Uint8Array(CHUNK_BYTES);
    view = new DataView(bytes.buffer);
    length = 0;
  };
  try {
    await forEachEntry(db, (key, value) => {
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      const need = 8 + 3 * key.length + value.length;
      if (length + need > bytes.length) {
        if (length > 0) flush();
        if (need > bytes.length) {
          bytes = new Uint8Array(need);
          view = new DataView(bytes.buffer);
        }
      }
      const keyLength = encoder.encodeInto(key, bytes.subarray(length + 4)).written;
      view.setUint32(length, keyLength);
      length += 4 + keyLength;
      view.setUint32(length, value.length);
      bytes.set(value, length + 4);
      length += 4 + value.length;
    });
    if (length > 0) flush();
  } finally {
    await db.close();
  }
  port.postMessage({ kind: 'done' } satisfies LoadWorkerMessage);
}

if (parentPort) {
  const port = parentPort;
  run(port, workerData as LoadWorkerData).catch((err: unknown) => {
    port.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) } satisfies LoadWorkerMessage);
  });
}
