// Reading a whole store, in the one way both loaders use.
import type { Level } from 'level';

/**
 * Calls `onEntry` for every entry, in key order. Entries come in batches per native call (a
 * million one-at-a-time awaits cost seconds at start), and the next batch is read on libuv's
 * thread pool while this one is handled.
 */
export async function forEachEntry(db: Level<string, Uint8Array>, onEntry: (key: string, value: Uint8Array) => void): Promise<void> {
  const iterator = db.iterator();
  try {
    let next = iterator.nextv(4096);
    for (let batch = await next; batch.length > 0; batch = await next) {
      next = iterator.nextv(4096);
      for (const [key, value] of batch) onEntry(key, value);
    }
  } finally {
    await iterator.close();
  }
}
