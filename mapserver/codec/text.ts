// Addresses as people read them: logs, the CLI, the API.
import type { Address } from './types.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function formatAddress(address: Address): string {
  switch (address.afi) {
    case 'none':
      return '(no address)';
    case 'ipv4':
    case 'ipv6':
      return address.ip;
    case 'mac':
      return address.mac;
    case 'lcaf-iid':
      return `[${address.iid}] ${formatAddress(address.address)}`;
    case 'lcaf-afi-list':
      return `(${address.addresses.map(formatAddress).join(', ')})`;
    case 'lcaf':
      return `LCAF type ${address.lcafType} flags 0x${address.flags.toString(16).padStart(2, '0')} payload ${hex(address.payload) || '(empty)'}`;
  }
}

/** `10.0.0.1:4342`, `[2001:db8::1]:4342`: an address and port as people and URLs write them. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
