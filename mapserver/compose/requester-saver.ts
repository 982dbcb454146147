// Saving the requester table (the ITRs answered, which a restart must still SMR) without
// stalling the event loop. A full table (100k entries, the default capacity) took 220-600 ms of
// one thread to copy and encode in one go, every 5 s while it changed: the Map-Resolver froze for
// that long (the 1M-mapping bench's 350 ms worst case, and its p99 at half load). The table is
// walked and encoded REQUESTER_SLICE entries per event-loop turn instead; the encodings of
// consecutive slices, concatenated, are the encoding of the whole (store/codec.ts).
import type { RequesterTable } from '../control/requesters.js';
import type { Requester } from '../db/model.js';
import { encodeRequesters } from '../store/codec.js';

/** Entries walked per event-loop turn: well under a millisecond of encoding here. */
export const REQUESTER_SLICE = 256;
/** Bytes of the encoded table copied into one buffer per event-loop turn (64 pages). */
const JOIN_SLICE_BYTES = 256 * 1024;
/** The table is saved at most this often (and at close): a crash loses what came since. */
export const REQUESTERS_SAVE_MS = 5000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class RequesterSaver {
  /** The table's version the store holds (-1: nothing saved or restored yet). */
  private savedVersion = -1;
  private savedAt = 0;
  private running = false;
  private stopped = false;

  constructor(
    private readonly table: RequesterTable,
    /** Writes an encoded table (a put-requesters change). */
    private readonly save: (encoded: Uint8Array) => void,
    private readonly onError: (err: unknown) => void,
    private readonly yieldTurn: () => Promise<void> = nextTurn,
  ) {}

  /** The table as it is now is what the store holds (just restored from it). */
  markSaved(): void {
    this.savedVersion = this.table.version;
  }

  /** From the sweep: starts a save when the table changed and the last one began 5 s ago or more. */
  tick(now: number): void {
    if (this.running || this.stopped || this.table.version === this.savedVersion || now - this.savedAt < REQUESTERS_SAVE_MS) return;
    this.running = true;
    this.savedAt = now;
    const version = this.table.version;
    this.encodeInSlices(now).then(
      (encoded) => {
        this.running = false;
        if (encoded === undefined || this.stopped) return;
        // What changed during the walk may be missing: the next tick saves again.
        this.savedVersion = version;
        this.save(encoded);
      },
      (err: unknown) => {
        this.running = false;
        this.onError(err);
      },
    );
  }

  /** No save starts or completes from now on (the server is closing). */
  stop(): void {
    this.stopped = true;
  }

  /** At close, after stop(): the whole table encoded at once, if it changed since the last save. */
  final(now: number): Uint8Array | undefined {
    return this.table.version === this.savedVersion ? undefined : encodeRequesters(this.table.snapshot(now));
  }

  /**
   * The live entries at `now`, encoded a slice per turn. The walk visits at most as many
   * entries as the table held when it began: entries added meanwhile come last, and wait for
   * the next save (a flood adds them faster than any walk ends).
   */
  private async encodeInSlices(now: number): Promise<Uint8Array | undefined> {
    const parts: Uint8Array[] = [];
    let slice: Requester[] = [];
    const limit = this.table.size;
    let walked = 0;
    for (const entry of this.table.inAgeOrder()) {
      if (walked === limit) break;
      if (entry.expiresAt > now) slice.push(entry);
      if (++walked % REQUESTER_SLICE !== 0) continue;
      if (slice.length) parts.push(encodeRequesters(slice));
      slice = [];
      await this.yieldTurn();
      if (this.stopped) return undefined;
    }
    if (slice.length || parts.length === 0) parts.push(encodeRequesters(slice));
    return parts.length === 1 ? parts[0] : this.joinInSlices(parts);
  }

  /**
   * The parts in one buffer, copied JOIN_SLICE_BYTES per turn: the first touch of each page of a
   * fresh 4 MB buffer costs a page fault, and on this VM Buffer.concat of a full table's parts
   * held the thread for 12-14 ms.
   */
  private async joinInSlices(parts: readonly Uint8Array[]): Promise<Uint8Array | undefined> {
    let total = 0;
    for (const part of parts) total += part.length;
    const joined = Buffer.allocUnsafeSlow(total);
    let offset = 0;
    let sinceTurn = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
      sinceTurn += part.length;
      if (sinceTurn < JOIN_SLICE_BYTES) continue;
      sinceTurn = 0;
      await this.yieldTurn();
      if (this.stopped) return undefined;
    }
    return joined;
  }
}
