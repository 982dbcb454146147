// describeMessage / messageToJson over every kind of message the arbitraries produce.
import t from 'tap';
import fc from 'fast-check';
import { arbLispMessage } from '../helpers/arbitraries.js';
import { actionName, describeMessage, formatAddress, messageToJson, nonceHex, summarizeMessage } from '../../mapserver/cli/format.js';
import type { LispMessage } from '../../mapserver/codec/types.js';

t.test('every message renders as a tree and as JSON', async (t) => {
  let lines = 0;
  fc.assert(
    fc.property(arbLispMessage, (msg: LispMessage) => {
      const tree = describeMessage(msg);
      lines += tree.length;
      const json = JSON.parse(JSON.stringify(messageToJson(msg))) as { type: string; nonce?: string };
      const inner = msg.type === 'ecm' ? msg.message : msg;
      const nonce = inner.type === 'ecm' ? 0n : inner.nonce;
      const shown = tree.some((line) => line.includes(`Nonce: ${nonceHex(nonce)}`));
      const indentOk = tree.slice(1).every((line) => line.startsWith('  '));
      return json.type === msg.type && shown && indentOk && summarizeMessage(msg).length > 0 && (msg.type === 'ecm' || json.nonce === nonceHex(msg.nonce));
    }),
    { seed: 77, numRuns: 400 },
  );
  t.ok(lines > 4000, `${lines} tree lines rendered`);
});

t.test('names and addresses', async (t) => {
  t.equal(nonceHex(0n), '0x0000000000000000');
  t.equal(nonceHex(0xffd90d6f762919dcn), '0xffd90d6f762919dc');
  t.equal(actionName(1), 'natively-forward');
  t.equal(actionName(5), 'drop-auth-failure');
  t.equal(actionName(7), 'action-7');
  t.equal(formatAddress({ afi: 'lcaf-iid', iid: 7, maskLen: 32, flags: 0, address: { afi: 'ipv4', ip: '172.16.31.10' } }), '[7] 172.16.31.10');
  t.equal(formatAddress({ afi: 'lcaf-afi-list', flags: 0, addresses: [{ afi: 'ipv4', ip: '10.0.0.1' }, { afi: 'mac', mac: '02:00:00:00:00:01' }] }), '(10.0.0.1, 02:00:00:00:00:01)');
  t.equal(formatAddress({ afi: 'lcaf', lcafType: 10, rsvd1: 0, flags: 1, rsvd2: 0, payload: new Uint8Array([1, 2]) }), 'LCAF type 10 flags 0x01 payload 0102');
  t.equal(formatAddress({ afi: 'none' }), '(no address)');
  const register: LispMessage = {
    type: 'map-register', proxyReply: true, security: false, xtrIdPresent: false, rtr: false, wantMapNotify: true, merge: false,
    nonce: 1n, auth: { keyId: 0, algId: 1, authData: new Uint8Array(20) },
    records: [{ eid: { iid: 0, address: { afi: 'ipv4', ip: '10.16.10.0' }, length: 24 }, ttl: 0xffffffff, action: 3, authoritative: true, mapVersion: 0, locators: [] }],
  };
  t.same(describeMessage(register), [
    'Map-Register (type 3)',
    '  Flags: P=1 S=0 I=0 R=0 M=1 m=0 E=0 T=0 (proxy-reply, want-map-notify)',
    '  Nonce: 0x0000000000000001',
    '  Key ID: 0, Algorithm ID: 1 (HMAC-SHA-1, full 20-byte digest)',
    `  Authentication data (20 bytes): ${'00'.repeat(20)}`,
    '  Records: 1',
    '    Record 1:',
    '      EID prefix: [0] 10.16.10.0/24',
    '      TTL: never expires (0xffffffff)',
    '      Action: 3 (drop), A=1 (authoritative), map-version 0',
    '      Locators: 0 (negative)',
  ]);
  t.equal(summarizeMessage(register), 'Map-Register nonce 0x0000000000000001 10.16.10.0/24');
});
