// Group commit for the Map-Server's write path: every accepted Map-Register wants its
// registration durable before the Map-Notify goes out, and one fsync'd LevelDB batch per tick
// (instead of one per message) keeps that cheap under bursts.
import type { StateChange } from '../db/model.js';
import type { BatchSink as SinkOf } from './state-store.js';
import type { PreparedBatch } from './store.js';

/** What the writer needs from a store (LevelDB's batches unless told otherwise). */
export type BatchSink<Batch = PreparedBatch> = SinkOf<Batch>;

interface Pending<Batch> {
  readonly batch: Batch;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Queues changes and writes everything queued in one batch per event-loop turn; while a batch
 * is being written, new changes collect for the next one. Batches commit in call order. Each
 * caller's promise resolves once the batch holding its changes is durable, or rejects with
 * that batch's error. A change that cannot be encoded rejects only its own caller.
 */
export class StoreWriter<Batch = unknown> {
  private queue: Pending<Batch>[] = [];
  private scheduled = false;
  private writing = false;

  constructor(private readonly sink: BatchSink<Batch>) {}

  /** Changes queued and not yet durable. */
  get pending(): number {
    return this.queue.length;
  }

  write(changes: readonly StateChange[]): Promise<void> {
    let batch: Batch;
    try {
      batch = this.sink.prepare(changes);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything written before this call is durable (or failed). */
  async flush(): Promise<void> {
    await this.write([]).catch(() => undefined);
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    const items = this.queue;
    this.queue = [];
    if (items.length === 0) return;
    this.writing = true;
    try {
      await this.sink.commit(items.map((i) => i.batch));
      for (const item of items) item.resolve();
    } catch (err) {
      for (const item of items) item.reject(err);
    } finally {
      this.writing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
