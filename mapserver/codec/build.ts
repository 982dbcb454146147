// Builders for the messages many parts of livmap compose (the server's SMRs and forwarded
// requests, lig, the xTR emulator, the benchmarks): every flag not asked for is clear, and
// the ECM header around a Map-Request is filled the one way an ITR fills it.
import { LISP_CONTROL_PORT } from './ports.js';
import type { EncapsulatedControl, InnerHeader, MapRequest } from './types.js';

type Required = 'nonce' | 'sourceEid' | 'itrRlocs' | 'records';

/** A Map-Request with the fields given and every flag not given clear (RFC 9301 §5.2). */
export function mapRequest(fields: Pick<MapRequest, Required> & Partial<Omit<MapRequest, 'type' | Required>>): MapRequest {
  return {
    type: 'map-request',
    authoritative: false, mapDataPresent: false, probe: false, smr: false, pitr: false, smrInvoked: false,
    notifyRequested: false, localXtr: false, dontMapReply: false,
    ...fields,
  };
}

/** The inner header as a sender gives it: the IP version follows the destination; port 4342 and TTL 64 unless given. */
export type EcmInner = Omit<InnerHeader, 'version' | 'destinationPort' | 'ttl'> & Partial<Pick<InnerHeader, 'destinationPort' | 'ttl'>>;

/** The ECM an ITR sends a Map-Request in (RFC 9301 §5.8), to the control port unless told otherwise. */
export function ecmAround(request: MapRequest, inner: EcmInner): EncapsulatedControl {
  return {
    type: 'ecm',
    security: false,
    ddt: false,
    inner: { version: inner.destination.includes(':') ? 6 : 4, destinationPort: LISP_CONTROL_PORT, ttl: 64, ...inner },
    message: request,
  };
}
