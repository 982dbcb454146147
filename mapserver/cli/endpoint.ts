// HOST[:PORT] arguments of the UDP verbs (lig --mr, register --ms): IP literals as given,
// host names resolved once, before anything is sent; printed back as addr:port or [v6]:port.
import { lookup } from 'node:dns/promises';
import { canonicalIp } from '../codec/ip.js';
import { formatHostPort } from '../codec/text.js';

export interface UdpTarget {
  readonly host: string;
  readonly port: number;
}

/** `[v6]:port`, `v4:port`, `name:port`, a bare v6 address, or a bare host; undefined when malformed. */
export function splitHostPort(text: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (m) {
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    return port > 0 && port < 65536 && m[1] ? { host: m[1], port } : undefined;
  }
  // An IPv6 address without brackets cannot carry a port.
  const v6 = canonicalIp(text);
  return v6 ? { host: v6, port: defaultPort } : undefined;
}

/** Resolves HOST[:PORT] to an IP address; throws a message fit for the user. */
export async function resolveTarget(text: string, defaultPort: number, flag: string): Promise<UdpTarget> {
  const split = splitHostPort(text, defaultPort);
  if (!split) throw new Error(`${flag} '${text}' is not HOST[:PORT] (IPv6 as [addr]:port)`);
  const literal = canonicalIp(split.host);
  if (literal) return { host: literal, port: split.port };
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(split.host)) {
    throw new Error(`${flag} '${text}': '${split.host}' is neither an IP address nor a host name`);
  }
  try {
    const { address } = await lookup(split.host);
    return { host: canonicalIp(address) ?? address, port: split.port };
  } catch (err) {
    throw new Error(`${flag} '${text}': cannot resolve '${split.host}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** `127.0.0.1:4342`, `[::1]:4342` */
export function endpointString(host: string, port: number): string {
  return formatHostPort(host, port);
}
