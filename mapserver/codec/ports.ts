// The UDP ports LISP uses (RFC 9300 §5.3, RFC 9301 §5.1).

/** Control messages: Map-Request, Map-Reply, Map-Register, Map-Notify, ECM. */
export const LISP_CONTROL_PORT = 4342;
/** Encapsulated data packets between xTRs. */
export const LISP_DATA_PORT = 4341;
