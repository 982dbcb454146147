// A worker thread: its own UDP socket on the server's port (reusePort), answering the
// Map-Requests the kernel hashes to it from a copy of the mapping database that the main thread
// keeps up to date (protocol.ts). Everything else it receives goes to the main thread as bytes.
// See pool.ts for the consistency rules.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { LispCodecError, decode, encode } from '../codec/index.js';
import type { EncapsulatedControl, MapRequest } from '../codec/types.js';
import { handleMapRequest, replyAddress, type ResolverOptions } from '../control/map-resolver.js';
import { RateLimiter } from '../control/rate-limit.js';
import type { DropReason, HandlerResult, ReplyKind } from '../control/types.js';
import { MappingDatabase } from '../db/database.js';
import type { Endpoint } from '../db/model.js';
import { UdpTransport } from '../transport/udp.js';
import { AnsweredReport } from './answered.js';
import { forEachPacked } from './bulk.js';
import type { FromWorker, ToWorker, WorkerCounts, WorkerSetup } from './protocol.js';

// Message type codes (the high nibble of the first byte, RFC 9301 §5).
const MAP_REQUEST = 1;
const ECM = 8;

class Worker {
  private readonly db: MappingDatabase;
  private readonly limiter: RateLimiter;
  private readonly report: AnsweredReport;
  private transport: UdpTransport | undefined;
  private resolver: ResolverOptions = { families: new Set() };
  private reportTimer: NodeJS.Immediate | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private version: number;
  private datagrams = 0;
  private bulkSent = 0;
  private readonly received = { 'map-request': 0, ecm: 0 };
  private readonly dropped: Partial<Record<DropReason | 'internal' | 'send-error', number>> = {};
  private readonly replies: Record<ReplyKind, number> = { positive: 0, negative: 0, forwarded: 0 };

  constructor(private readonly port: MessagePort, setup: WorkerSetup) {
    this.db = new MappingDatabase(setup.database);
    this.db.apply(setup.snapshot);
    this.version = setup.version;
    this.limiter = new RateLimiter(setup.rateLimit);
    this.report = new AnsweredReport(setup.requesterCapacity);
    this.sweeper = setInterval(() => this.report.sweep(Date.now()), 10_000);
    this.sweeper.unref();
    port.on('message', (message: ToWorker) => this.onMessage(message));
  }

  async listen(setup: WorkerSetup): Promise<void> {
    this.transport = await UdpTransport.open(
      setup.listen.map(({ address, port, family }) => ({ host: address, port, family })),
      (bytes, from) => this.onDatagram(bytes, from),
      () => this.count('send-error'),
      setup.receiveBufferBytes,
      true,
    );
    this.resolver = { families: this.transport.families };
    this.post({ kind: 'ready' });
  }

  private post(message: FromWorker): void {
    this.port.postMessage(message);
  }

  private onMessage(message: ToWorker): void {
    switch (message.kind) {
      case 'changes':
        this.db.apply(message.changes);
        this.version = message.version;
        if (message.ack) {
          // Every ITR answered with the old binding is reported before the ack: the main
          // thread SMRs them when the ack arrives, without asking.
          this.flushReport();
          this.post({ kind: 'ack', version: this.version });
        }
        return;
      case 'counts':
        this.post({ kind: 'counts', id: message.id, counts: this.counts() });
        return;
      case 'send': {
        const transport = this.transport;
        if (transport) {
          forEachPacked(message.datagrams, (to, bytes) => transport.send(to, bytes));
          this.bulkSent += message.datagrams.count;
        }
        this.post({ kind: 'sent', id: message.id, sent: transport !== undefined });
        return;
      }
      case 'close':
        void this.close();
        return;
      case 'stall':
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, message.ms);
        return;
    }
  }

  private counts(): WorkerCounts {
    return { datagrams: this.datagrams, received: { ...this.received }, dropped: { ...this.dropped }, replies: { ...this.replies }, bulkSent: this.bulkSent };
  }

  private count(reason: DropReason | 'internal' | 'send-error'): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  private onDatagram(bytes: Buffer, from: Endpoint): void {
    const type = bytes.length > 0 ? bytes[0]! >> 4 : 0;
    if (type !== MAP_REQUEST && type !== ECM) {
      // Registrations and acks belong to the database's owner; it counts them as received.
      // A copy of exactly its bytes: cloning a Buffer clones the whole memory it views.
      this.post({ kind: 'datagram', bytes: new Uint8Array(bytes), from });
      return;
    }
    try {
      let message;
      try {
        message = decode(bytes);
      } catch (err) {
        if (!(err instanceof LispCodecError)) throw err;
        this.datagrams++;
        this.count('malformed');
        return;
      }
      const request = message.type === 'ecm' ? message.message : message;
      if (request.type !== 'map-request' || (request.notifyRequested && request.xtrId !== undefined)) {
        // An RFC 9437 subscribe is a write (the subscription is stored), and an ECM carrying
        // anything else is the owner's to judge: the main thread handles and counts both.
        this.post({ kind: 'datagram', bytes: new Uint8Array(bytes), from });
        return;
      }
      this.datagrams++;
      if (message.type === 'ecm' && request.type === 'map-request') {
        this.received.ecm++;
        this.answer(request, { ecm: message, bytes }, bytes, from);
      } else if (message.type === 'map-request') {
        this.answer(message, undefined, bytes, from);
      }
    } catch (err) {
      // A bug must cost one datagram, never the worker.
      this.count('internal');
      this.post({ kind: 'log', level: 'error', message: 'internal error handling a datagram', detail: { from: from.address, err: err instanceof Error ? (err.stack ?? err.message) : String(err) } });
    }
  }

  private answer(request: MapRequest, envelope: { readonly ecm: EncapsulatedControl; readonly bytes: Uint8Array } | undefined, bytes: Buffer, from: Endpoint): void {
    this.received['map-request']++;
    const now = Date.now();
    if (request.smrInvoked) this.post({ kind: 'smr-invoked', bytes: new Uint8Array(bytes), from });
    // Per worker: the kernel hashes one source (address and port) to one socket (see pool.ts).
    if (!this.limiter.allow(replyAddress(request, this.resolver.families) ?? from.address, now)) {
      this.count('rate');
      return;
    }
    this.process(handleMapRequest(this.db, this.resolver, request, envelope, from, now));
  }

  private process(result: HandlerResult): void {
    if (result.drop) this.count(result.drop.reason);
    for (const kind of result.replies ?? []) this.replies[kind]++;
    if (result.answered) {
      for (const requester of result.answered) this.report.note(requester);
      // Reported once the datagrams read in this turn are answered: one post for all of them,
      // and the main table learns of an answer within a thread hop, in about the order given.
      if (this.report.waiting > 0 && this.reportTimer === undefined) this.reportTimer = setImmediate(() => this.flushReport());
    }
    const transport = this.transport;
    if (!transport) return;
    for (const out of result.outbound) transport.send(out.to, out.kind === 'raw' ? out.bytes : encode(out.message));
  }

  private flushReport(): void {
    if (this.reportTimer !== undefined) clearImmediate(this.reportTimer);
    this.reportTimer = undefined;
    const requesters = this.report.take();
    if (requesters.length) this.post({ kind: 'answered', requesters });
  }

  private async close(): Promise<void> {
    clearInterval(this.sweeper);
    // Nothing is sent on a closing socket: a bulk share arriving now is answered `sent: false`.
    const transport = this.transport;
    this.transport = undefined;
    await transport?.close();
    // What was answered before the socket closed still needs its SMRs.
    this.flushReport();
    this.port.close();
  }
}

if (parentPort) {
  const setup = workerData as WorkerSetup;
  const worker = new Worker(parentPort, setup);
  worker.listen(setup).catch((err: unknown) => {
    // Fail loudly: the main thread logs the error and does not start (or restarts) this worker.
    throw err instanceof Error ? err : new Error(String(err));
  });
}
