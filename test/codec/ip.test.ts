import t from 'tap';
import { canonicalIp, formatIpv4, formatIpv6, parseIp, parseIpv4Into, parseIpv6Into, formatMac, parseMacInto } from '../../mapserver/codec/ip.js';
import { isIP } from 'node:net';

t.test('IPv4 text round-trips and rejects garbage', async (t) => {
  const out = new Uint8Array(4);
  t.ok(parseIpv4Into('10.16.10.0', out));
  t.same([...out], [10, 16, 10, 0]);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '01.2.3.4', 'a.b.c.d', '1.2.3.4 ']) {
    t.notOk(parseIpv4Into(bad, out), `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('IPv6 formatting follows RFC 5952', async (t) => {
  const cases: Array<[string, string]> = [
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'],
  ];
  for (const [input, canonical] of cases) t.equal(canonicalIp(input), canonical, input);
});

t.test('IPv6 parser agrees with node:net on validity', async (t) => {
  const samples = ['1::2::3', ':1:2', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7::', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:', '::ffff:1.2.3'];
  const out = new Uint8Array(16);
  for (const s of samples) t.equal(parseIpv6Into(s, out), isIP(s) === 6, s);
});

t.test('random IPv6 bytes survive format then parse', async (t) => {
  for (let n = 0; n < 2000; n++) {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = Math.random() < 0.4 ? 0 : (Math.random() * 256) | 0;
    const text = formatIpv6(bytes);
    const parsed = parseIp(text);
    if (!parsed || Buffer.compare(Buffer.from(parsed.bytes), Buffer.from(bytes)) !== 0) {
      t.fail(`round trip of ${text}`);
      return;
    }
  }
  t.pass('2000 random addresses round-trip');
});

t.test('MAC text', async (t) => {
  const out = new Uint8Array(6);
  t.ok(parseMacInto('00:1B:44:11:3a:b7', out));
  t.equal(formatMac(out), '00:1b:44:11:3a:b7');
  t.notOk(parseMacInto('00:1b:44:11:3a', out));
});

t.test('formatIpv4 gives the dotted quad of every address', async (t) => {
  const bytes = new Uint8Array(4);
  let checked = 0;
  for (let i = 0; i < 40_000; i++) {
    const x = Math.imul(i, 0x01000193) >>> 0;
    bytes[0] = x >>> 24; bytes[1] = (x >>> 16) & 255; bytes[2] = (x >>> 8) & 255; bytes[3] = x & 255;
    const expected = Array.from(bytes).join('.');
    if (formatIpv4(bytes) !== expected) throw new Error(`${expected} formatted as ${formatIpv4(bytes)}`);
    checked++;
  }
  t.equal(checked, 40_000, 'every address formatted as its dotted quad');
  t.equal(formatIpv4(Uint8Array.of(9, 255, 255, 255, 255), 1), '255.255.255.255', 'offset honoured, all-ones address');
  t.equal(formatIpv4(Uint8Array.of(0, 0, 0, 0)), '0.0.0.0');
});
