// The libconfuse-grammar reader and OOR 1.3 option table, and writer/reader round trips.
import t from 'tap';
import fc from 'fast-check';
import { checkOorXtrFile, checkOptionTypes, ConfSyntaxError, parseOorConf, readXtrConf } from '../../xtr-config/oor-conf-reader.js';
import { formatOorConf, int, list, quoteString, section, str } from '../../xtr-config/oor-conf.js';

// A hand-written file in OOR's style, with every comment form and quoting form libconfuse knows.
const SAMPLE = `# top comment
debug = 1   // trailing C++ comment
/* block
   comment */ map-request-retries = 0x3
OPERATING-MODE = "xTR"
encapsulation = 'lisp'
map-resolver = { 192.0.2.1, "2001:db8::1" }
map-server {
\taddress = 192.0.2.1
\tkey-type = 1
\tkey = "p\\"w\\\\d \\$x # not a comment"
\tproxy-reply = yes
}
database-mapping {
    eid-prefix = 2001:db8:1::/48
    iid = 012
    rloc-iface { interface = eth0
                 ip_version = 6 }
}
`;

t.test('parses OOR grammar: comments, case, quotes, escapes, lists, sections', async (t) => {
  const entries = parseOorConf(SAMPLE);
  t.same(checkOptionTypes(entries), []);
  const conf = readXtrConf(entries);
  t.equal(conf.debug, 1);
  t.equal(conf.mapRequestRetries, 3, 'hex integer as strtol(…, 0) reads it');
  t.equal(conf.operatingMode, 'xTR', 'option names are case-insensitive');
  t.equal(conf.encapsulation, 'lisp');
  t.same(conf.mapResolvers, ['192.0.2.1', '2001:db8::1']);
  t.same(conf.mapServers.map((m) => [m.address, m.keyType, m.key, m.proxyReply, m.line]), [['192.0.2.1', 1, 'p"w\\d $x # not a comment', true, 8]]);
  const m = conf.databaseMappings[0]!;
  t.equal(m.iid, 10, 'leading 0 is octal');
  t.equal(m.ttl, 10, "OOR's default TTL");
  t.same(m.rlocIfaces.map((r) => [r.interface, r.ipVersion, r.priority, r.weight]), [['eth0', 6, 1, 100]], 'OOR defaults for priority/weight');
  t.equal(conf.rlocProbing, undefined);
  t.same(checkOorXtrFile(SAMPLE).problems, []);
});

t.test('syntax errors carry the line', async (t) => {
  const bad: Array<[string, number, RegExp]> = [
    ['debug = 1\nmap-server {\n address = 1.2.3.4\n', 3, /missing '}'/],
    ['a = "open\n\n', 1, /unterminated string/],
    ['a = { x y }', 1, /expected ',' or '}'/],
    ['}', 1, /unexpected '}'/],
    ['debug\n= =', 2, /unexpected '='/],
    ['/* never closed', 1, /unterminated \/\* comment/],
    ['key = "${HOME}"', 1, /environment substitution/],
  ];
  for (const [text, line, re] of bad) {
    let caught: unknown;
    try {
      parseOorConf(text);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfSyntaxError, `${JSON.stringify(text)} is refused`);
    if (caught instanceof ConfSyntaxError) {
      t.equal(caught.line, line, 'line');
      t.match(caught.problem, re);
    }
  }
});

t.test('the OOR 1.3 option table catches what libconfuse would refuse', async (t) => {
  const problems = (text: string): string[] => checkOptionTypes(parseOorConf(text)).map((p) => `${p.line}: ${p.problem}`);
  t.same(problems('debug = 1\ncolour = blue'), ["2: no such option 'colour'"]);
  t.same(problems('map-server {\n  adress = 1.2.3.4\n}'), ["2: no such option 'map-server adress'"]);
  t.same(problems('debug = high'), ["1: 'debug': 'high' is not an integer"]);
  t.same(problems('map-server { proxy-reply = maybe }'), ["1: 'map-server proxy-reply': 'maybe' is not a boolean (true/false, on/off, yes/no)"]);
  t.same(problems('map-server = 1.2.3.4'), ["1: 'map-server' is a section: write map-server { ... }"]);
  t.same(problems('debug { }'), ["1: 'debug' is an option, not a section"]);
  t.same(problems('debug = { 1, 2 }'), ["1: 'debug' takes one value, not a list"]);
  t.same(problems('database-mapping main { }'), ["1: section 'database-mapping' takes no title"]);
  t.same(problems('map-resolver = 192.0.2.1'), [], 'a single value is fine for a list option');
  t.same(problems('database-mapping { rloc-iface { interface = eth0 } }'), []);
});

t.test('xTR semantics: what OOR would exit on, drop or silently alter', async (t) => {
  const base = 'operating-mode = xTR\nmap-resolver = { 192.0.2.1 }\n';
  const mapping = 'database-mapping {\n eid-prefix = 10.0.0.0/8\n rloc-address { address = 192.0.2.9 }\n}\n';
  const server = 'map-server {\n address = 192.0.2.1\n key = k\n}\n';
  const issues = (text: string): string[] => checkOorXtrFile(text).problems.map((p) => p.problem);
  t.same(issues(base + server + mapping), []);
  t.match(issues(server + mapping), [/operating-mode is not set/, /no map-resolver/]);
  t.match(issues(base + 'map-server {\n address = 192.0.2.1\n key-type = 2\n key = k\n}\n' + mapping), [/key-type 2: OOR supports only 1/]);
  t.match(issues(base + 'map-server {\n address = 192.0.2.1\n}\n' + mapping), [/needs address and key/]);
  t.match(issues(base + server + 'database-mapping {\n eid-prefix = 10.0.0.0/8\n iid = 16777216\n ttl = 0\n rloc-address { address = 192.0.2.9\n priority = 256\n weight = -1 }\n}\n'), [
    /iid 16777216 is outside/,
    /ttl 0 is below 1 minute/,
    /priority 256 is outside 0..255/,
    /weight -1 is outside 0..255/,
  ]);
  t.match(issues(base + server + 'database-mapping {\n rloc-iface { ip_version = 5 }\n}\n'), [/without eid-prefix/, /without interface/, /ip_version 5/]);
  t.match(issues(base + server), [/no database-mapping/]);
  t.match(issues('operating-mode = MS\n'), [/not xTR/]);
  t.match(issues('bogus = 1'), [/no such option 'bogus'/]);
});

t.test('strings round-trip through the writer and the reader', async (t) => {
  t.equal(quoteString('10.16.10.0/24'), '10.16.10.0/24', 'prefixes stay bare, as in OOR\'s examples');
  t.equal(quoteString('2001:db8::/32'), '2001:db8::/32');
  t.equal(quoteString('a//b'), '"a//b"', '// would start a comment');
  t.equal(quoteString('k', true), '"k"');
  t.equal(quoteString('${HOME}'), '"\\${HOME}"', 'no environment expansion');
  t.throws(() => quoteString('a\nb'), /control characters/);
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...'ab$"\\\'#/*{}=,+ ;:.-_xy0'.split('')), minLength: 1, maxLength: 24 }),
      fc.boolean(),
      (secret, force) => {
        const text = formatOorConf([section('map-server', [str('address', '192.0.2.1'), int('key-type', 1), str('key', secret, force)]), list('map-resolver', [secret])]);
        const conf = readXtrConf(parseOorConf(text));
        return conf.mapServers[0]!.key === secret && conf.mapResolvers[0] === secret;
      },
    ),
    { numRuns: 500 },
  );
});
