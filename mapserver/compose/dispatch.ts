// Packet dispatch: one decoded message -> the handler for its type -> a HandlerResult. Nothing
// here sends or writes; the server (compose/server.ts) applies the result.
import { verifyMessage } from '../codec/index.js';
import type { EncapsulatedControl, LispMessage, MapNotify, MapRequest } from '../codec/types.js';
import type { Registrar } from '../authority/registrar.js';
import { handleMapRequest, replyAddress, type ResolverOptions } from '../control/map-resolver.js';
import type { RateLimiter } from '../control/rate-limit.js';
import { handleSubscribe, type SubscriptionTable } from '../control/subscriptions.js';
import { NOTHING, dropped, notifyAckKey, type HandlerResult, type Outbound } from '../control/types.js';
import type { MappingDatabase } from '../db/database.js';
import type { Endpoint } from '../db/model.js';
import type { ServerMetrics } from '../metrics.js';

export interface DispatchParts {
  readonly db: MappingDatabase;
  readonly registrar: Registrar;
  readonly subscriptions: SubscriptionTable;
  readonly replyLimiter: RateLimiter;
  readonly metrics: ServerMetrics;
  /** The address families the server can answer on (its bound sockets'). */
  readonly resolver: () => ResolverOptions;
  /** An SMR-invoked Map-Request arrived: the SMRs it answers stop (mobility). */
  smrInvoked(request: MapRequest, from: Endpoint): void;
  /** The reliable message pending under an acknowledgement key (a Map-Notify awaiting its Ack). */
  awaiting(key: string): Outbound | undefined;
  /** The acknowledged message stops being resent. */
  acknowledged(key: string): void;
}

export class Dispatcher {
  constructor(private readonly parts: DispatchParts) {}

  handle(message: LispMessage, bytes: Uint8Array, from: Endpoint, now: number): HandlerResult {
    const { metrics } = this.parts;
    switch (message.type) {
      case 'ecm': {
        const inner = message.message;
        // RFC 9301 §5.8: toward a Map-Server/Map-Resolver an ECM carries a Map-Request; any
        // other inner type is counted under its own drop reason.
        if (inner.type !== 'map-request') return dropped('ecm-inner-type', `ECM carrying a ${inner.type} (only Map-Requests are handled encapsulated)`, from);
        metrics.countReceived('map-request');
        return this.request(inner, { ecm: message, bytes }, message.inner.sourcePort, from, now);
      }
      case 'map-request':
        return this.request(message, undefined, from.port, from, now);
      case 'map-register': {
        const result = this.parts.registrar.register(message, bytes, from, now);
        for (const reason of result.refusedRecords ?? []) metrics.countRefusedRecord(reason);
        // Refused for its HMAC: the site is the one its first record's EID falls in (the key it was checked with).
        const first = message.records[0];
        if (result.drop?.reason === 'auth' && first) {
          const site = this.parts.db.siteFor(first.eid)?.site.name;
          if (site !== undefined) metrics.countAuthFailure(site);
        }
        return result;
      }
      case 'map-notify-ack':
        return this.acknowledge(message, bytes, from);
      case 'map-reply':
      case 'map-notify':
        return dropped('unexpected', `${message.type} is not for a Map-Server`, from);
    }
  }

  /** A Map-Request, plain or encapsulated; `replyPort` is its (inner) UDP source port. */
  private request(request: MapRequest, envelope: { readonly ecm: EncapsulatedControl; readonly bytes: Uint8Array } | undefined, replyPort: number, from: Endpoint, now: number): HandlerResult {
    const { metrics, resolver } = this.parts;
    if (request.smrInvoked) {
      metrics.smrInvokedReceived.inc();
      this.parts.smrInvoked(request, from);
    }
    // Charges the address the answer would go to (the first usable ITR-RLOC, else the sender).
    if (!this.parts.replyLimiter.allow(replyAddress(request, resolver().families) ?? from.address, now)) return dropped('rate', 'Map-Request rate limit for this ITR-RLOC', from);
    // RFC 9437 subscribe / unsubscribe: stored, then answered with a Map-Notify resent until acked.
    if (request.notifyRequested && request.xtrId) return handleSubscribe(this.parts.db, this.parts.subscriptions, { ...request, xtrId: request.xtrId }, from, replyPort, resolver().families, now);
    if (!metrics.sampleLookup()) return handleMapRequest(this.parts.db, resolver(), request, envelope, from, now);
    const start = process.hrtime.bigint();
    const result = handleMapRequest(this.parts.db, resolver(), request, envelope, from, now);
    metrics.lookupSeconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
    return result;
  }

  private acknowledge(ack: MapNotify, bytes: Uint8Array, from: Endpoint): HandlerResult {
    const key = notifyAckKey(from, ack.nonce);
    const pending = this.parts.awaiting(key);
    if (!pending || pending.kind !== 'message') return dropped('unexpected', 'Map-Notify-Ack for no pending Map-Notify', from);
    // An unsigned Map-Notify (to a subscriber with no key) is acknowledged unsigned too.
    if (pending.secret === undefined ? ack.auth.algId !== 0 : !verifyMessage(bytes, pending.secret)) return dropped('auth', 'Map-Notify-Ack failed authentication', from);
    this.parts.acknowledged(key);
    return NOTHING;
  }
}
