// Public API of the LISP control-message codec (RFC 9300/9301): pure functions, no I/O.
export * from './types.js';
export { LispCodecError } from './errors.js';
export { Reader } from './reader.js';
export { decode, decodeWithLength, encode, encodeInto, encodingLength, signMessage, MESSAGE_TYPE, MESSAGE_TYPE_NUMBER } from './message.js';
export { verifyMessage, computeAuthData, authDataLength, validAuthLength, decodeAuth, encodeAuth, AUTH_DATA_OFFSET, AUTH_FIELD_OFFSET, type Secret } from './auth.js';
export { decodeAddress, encodeAddress, addressLength, addressBits, MAX_LCAF_DEPTH } from './address.js';
export { decodeEid, encodeEid, eidLength, IID_MASK_LEN } from './eid.js';
export { decodeRecord, encodeRecord, immutableRecord, recordLength, decodeRecords, encodeRecords, recordsLength } from './record.js';
export { decodeMapRequest, encodeMapRequest, mapRequestLength, singleRecordVariants } from './map-request.js';
export { decodeMapReply, encodeMapReply, mapReplyLength } from './map-reply.js';
export { decodeMapRegister, encodeMapRegister, mapRegisterLength, MAP_REGISTER_BITS } from './map-register.js';
export { decodeMapNotify, encodeMapNotify, mapNotifyLength } from './map-notify.js';
export { decodeEcm, encodeEcm, ecmHeaderLength } from './ecm.js';
export * from './ip.js';
export * from './prefix.js';
export { LISP_CONTROL_PORT, LISP_DATA_PORT } from './ports.js';
export { mapRequest, ecmAround, type EcmInner } from './build.js';
