// A small reader of OOR's configuration grammar (libconfuse), plus the option table of OOR 1.3
// (cfg_opt_t opts[] in oor/config/oor_config_confuse.c) so a file can be checked the way OOR
// would load it: unknown options and wrongly typed values are parse errors there, and a few
// values make OOR exit or silently drop a locator. Used by the tests and `xtr-config --check`.
import { canonicalIp } from '../mapserver/codec/ip.js';
import { parseEidPrefix } from '../mapserver/codec/prefix.js';

export interface ConfScalar {
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
}

export type ConfEntry =
  | { readonly kind: 'scalar'; readonly name: string; readonly line: number; readonly value: ConfScalar }
  | { readonly kind: 'list'; readonly name: string; readonly line: number; readonly items: readonly ConfScalar[] }
  | { readonly kind: 'section'; readonly name: string; readonly line: number; readonly title?: string; readonly entries: readonly ConfEntry[] };

export class ConfSyntaxError extends Error {
  constructor(readonly line: number, readonly problem: string) {
    super(`line ${line}: ${problem}`);
    this.name = 'ConfSyntaxError';
  }
}

type Punct = '{' | '}' | '(' | ')' | '=' | '+=' | ',';
type Token = { readonly type: 'str'; readonly text: string; readonly quoted: boolean; readonly line: number } | { readonly type: Punct; readonly line: number };

const DQ_ESCAPES: Readonly<Record<string, string>> = { n: '\n', r: '\r', b: '\b', f: '\f', a: '\x07', e: '\x1b', t: '\t', v: '\v' };
// Characters that end an unquoted string in libconfuse's lexer.
const BARE_STOP = new Set([' ', '\t', '\r', '\n', '#', '"', "'", '=', '{', '}', '(', ')', '+', ',', '*']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#' || text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new ConfSyntaxError(line, 'unterminated /* comment');
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
    } else if (text.startsWith('+=', i)) {
      tokens.push({ type: '+=', line });
      i += 2;
    } else if ('{}()=,'.includes(c)) {
      tokens.push({ type: c as Punct, line });
      i++;
    } else if (c === '"' || c === "'") {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ConfSyntaxError(start, 'unterminated string constant');
        const d = text[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\n') line++;
        if (d === '\\' && i + 1 < text.length) {
          const e = text[i + 1]!;
          if (e === '\n') {
            line++;
            i += 2;
          } else if (c === "'") {
            // Single quotes only unescape \\ and \'.
            value += e === '\\' || e === "'" ? e : `\\${e}`;
            i += 2;
          } else if (/[0-7]/.test(e)) {
            const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
            value += String.fromCharCode(parseInt(m, 8));
            i += 1 + m.length;
          } else if (e === 'x' && /[0-9A-Fa-f]/.test(text[i + 2] ?? '')) {
            const m = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(i + 2))![0];
            value += String.fromCharCode(parseInt(m, 16));
            i += 2 + m.length;
          } else {
            value += DQ_ESCAPES[e] ?? e;
            i += 2;
          }
          continue;
        }
        if (c === '"' && text.startsWith('${', i)) {
          // libconfuse would substitute an environment variable here; a generated file never has one.
          throw new ConfSyntaxError(line, 'environment substitution ${...} inside a string is not supported by this reader');
        }
        value += d;
        i++;
      }
      tokens.push({ type: 'str', text: value, quoted: true, line: start });
    } else {
      let j = i;
      while (j < text.length && !BARE_STOP.has(text[j]!) && !text.startsWith('//', j) && !text.startsWith('/*', j)) j++;
      if (j === i) throw new ConfSyntaxError(line, `unexpected character '${c}'`);
      tokens.push({ type: 'str', text: text.slice(i, j), quoted: false, line });
      i = j;
    }
  }
  return tokens;
}

/** Parses libconfuse syntax into entries (no option table needed). Throws ConfSyntaxError. */
export function parseOorConf(text: string): ConfEntry[] {
  const tokens = tokenize(text);
  let pos = 0;
  const lastLine = (): number => tokens[tokens.length - 1]?.line ?? 1;
  const next = (what: string): Token => {
    const t = tokens[pos++];
    if (!t) throw new ConfSyntaxError(lastLine(), `unexpected end of file, expected ${what}`);
    return t;
  };
  const scalar = (t: Token, what: string): ConfScalar => {
    if (t.type !== 'str') throw new ConfSyntaxError(t.line, `unexpected '${t.type}', expected ${what}`);
    return { text: t.text, quoted: t.quoted, line: t.line };
  };

  const entries = (nested: boolean): ConfEntry[] => {
    const out: ConfEntry[] = [];
    for (;;) {
      const t = tokens[pos];
      if (!t) {
        if (nested) throw new ConfSyntaxError(lastLine(), "missing '}' at end of file");
        return out;
      }
      pos++;
      if (t.type === '}') {
        if (!nested) throw new ConfSyntaxError(t.line, "unexpected '}'");
        return out;
      }
      const name = scalar(t, 'an option name').text;
      const op = next(`'=' or '{' after '${name}'`);
      if (op.type === '=' || op.type === '+=') {
        const v = next(`a value for '${name}'`);
        if (v.type === '{') {
          const items: ConfScalar[] = [];
          let closing = next(`a list item or '}'`);
          while (closing.type !== '}') {
            items.push(scalar(closing, 'a list item'));
            const sep = next(`',' or '}' in the list '${name}'`);
            if (sep.type === '}') break;
            if (sep.type !== ',') throw new ConfSyntaxError(sep.line, `expected ',' or '}' in the list '${name}', found '${sep.type}'`);
            closing = next('a list item');
          }
          out.push({ kind: 'list', name, line: t.line, items });
        } else {
          if (op.type === '+=') throw new ConfSyntaxError(op.line, `'+=' needs a list value for '${name}'`);
          out.push({ kind: 'scalar', name, line: t.line, value: scalar(v, `a value for '${name}'`) });
        }
      } else if (op.type === '{') {
        out.push({ kind: 'section', name, line: t.line, entries: entries(true) });
      } else if (op.type === 'str') {
        const open = next(`'{' after the title of '${name}'`);
        if (open.type !== '{') throw new ConfSyntaxError(open.line, `expected '{' after '${name} ${op.text}'`);
        out.push({ kind: 'section', name, line: t.line, title: op.text, entries: entries(true) });
      } else {
        throw new ConfSyntaxError(op.line, `unexpected '${op.type}' after '${name}'`);
      }
    }
  };
  return entries(false);
}

// ---- OOR 1.3 option table --------------------------------------------------------------------

type OptType = 'int' | 'str' | 'bool' | 'strlist' | { readonly section: OptTable };
type OptTable = Readonly<Record<string, OptType>>;

const RLOC_ADDRESS: OptTable = { address: 'str', priority: 'int', weight: 'int', local: 'bool' };
const RLOC_IFACE: OptTable = { interface: 'str', ip_version: 'int', priority: 'int', weight: 'int' };
const DB_MAPPING: OptTable = { 'eid-prefix': 'str', iid: 'int', ttl: 'int', 'rloc-address': { section: RLOC_ADDRESS }, 'rloc-iface': { section: RLOC_IFACE } };
const PETR: OptTable = { address: 'str', priority: 'int', weight: 'int' };

/** Every option OOR 1.3 (Linux build) declares; anything else is a libconfuse parse error. */
export const OOR_13_OPTIONS: OptTable = {
  'database-mapping': { section: DB_MAPPING },
  'ms-static-registered-site': { section: DB_MAPPING },
  'rtr-database-mapping': { section: DB_MAPPING },
  'static-map-cache': { section: { 'eid-prefix': 'str', iid: 'int', 'rloc-address': { section: RLOC_ADDRESS } } },
  'map-server': { section: { address: 'str', 'key-type': 'int', key: 'str', 'proxy-reply': 'bool' } },
  'rtr-ifaces': { section: { 'rtr-iface': { section: { iface: 'str', ip_version: 'int', priority: 'int', weight: 'int' } } } },
  'proxy-etr-ipv4': { section: PETR },
  'proxy-etr-ipv6': { section: PETR },
  encapsulation: 'str',
  'rloc-probing': { section: { 'rloc-probe-interval': 'int', 'rloc-probe-retries': 'int', 'rloc-probe-retries-interval': 'int' } },
  'map-request-retries': 'int',
  'control-port': 'int',
  debug: 'int',
  'log-file': 'str',
  'ipv6-scope': 'str',
  'rloc-probing-interval': 'int',
  'map-resolver': 'strlist',
  'proxy-itrs': 'strlist',
  'allowed-dst-eids': 'strlist',
  'operating-mode': 'str',
  nat_traversal_support: 'bool',
  'control-iface': 'str',
  'rtr-data-iface': 'str',
  'lisp-site': {
    section: {
      'eid-prefix': 'str',
      iid: 'int',
      'key-type': 'int',
      key: 'str',
      'accept-more-specifics': 'bool',
      'proxy-reply': 'bool',
      merge: 'bool',
      'ddt-ms-peers-complete': 'bool',
      'ddt-ms-peers': 'strlist',
    },
  },
  'explicit-locator-path': { section: { 'elp-name': 'str', 'elp-node': { section: { address: 'str', strict: 'bool', probe: 'bool', lookup: 'bool' } } } },
  'replication-list': { section: { 'rle-name': 'str', 'rle-node': { section: { address: 'str', level: 'int' } } } },
  'multicast-info': {
    section: { 'mc-info-name': 'str', source: 'str', 'source-mask-length': 'int', group: 'str', 'group-mask-length': 'int', iid: 'int' },
  },
  'ddt-auth-site': { section: { 'eid-prefix': 'str', iid: 'int' } },
  'ddt-deleg-site': { section: { 'eid-prefix': 'str', iid: 'int', 'delegation-type': 'str', 'deleg-nodes': 'strlist' } },
  'ddt-root-addresses': 'strlist',
  'ms-rtrs-set': { section: { name: 'str', ttl: 'int', rtrs: 'strlist' } },
  'ms-rtr-node': { section: { name: 'str', address: 'str', key: 'str' } },
  'ms-advertised-rtrs-set': 'str',
  'rtr-ms-node': { section: { address: 'str', key: 'str', 'draft-version': 'str' } },
};

export interface ConfProblem {
  readonly line: number;
  readonly problem: string;
}

// libconfuse reads integers with strtol(…, 0): decimal, 0x hex or 0 octal.
const INT_RE = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;
const BOOL_WORDS = new Set(['true', 'false', 'on', 'off', 'yes', 'no']);

export function confInt(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[-+]/, '');
  const value = /^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : /^0[0-7]+$/.test(body) ? parseInt(body, 8) : Number(body);
  return sign * value;
}

export function confBool(text: string): boolean {
  const lower = text.toLowerCase();
  return lower === 'true' || lower === 'on' || lower === 'yes';
}

/** Checks names and value types against OOR 1.3's option table (case-insensitive, CFGF_NOCASE). */
export function checkOptionTypes(entries: readonly ConfEntry[], table: OptTable = OOR_13_OPTIONS, where = ''): ConfProblem[] {
  const problems: ConfProblem[] = [];
  for (const e of entries) {
    const name = e.name.toLowerCase();
    const type = Object.hasOwn(table, name) ? table[name] : undefined;
    const label = where ? `${where} ${e.name}` : e.name;
    if (type === undefined) {
      problems.push({ line: e.line, problem: `no such option '${label}'` });
    } else if (typeof type === 'object') {
      if (e.kind !== 'section') problems.push({ line: e.line, problem: `'${label}' is a section: write ${e.name} { ... }` });
      else if (e.title !== undefined) problems.push({ line: e.line, problem: `section '${label}' takes no title` });
      else problems.push(...checkOptionTypes(e.entries, type.section, label));
    } else if (e.kind === 'section') {
      problems.push({ line: e.line, problem: `'${label}' is an option, not a section` });
    } else if (type === 'strlist') {
      // A single value is accepted for a list option too.
    } else if (e.kind === 'list') {
      problems.push({ line: e.line, problem: `'${label}' takes one value, not a list` });
    } else if (type === 'int' && !INT_RE.test(e.value.text)) {
      problems.push({ line: e.line, problem: `'${label}': '${e.value.text}' is not an integer` });
    } else if (type === 'bool' && !BOOL_WORDS.has(e.value.text.toLowerCase())) {
      problems.push({ line: e.line, problem: `'${label}': '${e.value.text}' is not a boolean (true/false, on/off, yes/no)` });
    }
  }
  return problems;
}

// ---- The xTR view of a file, with OOR's defaults applied -------------------------------------

export interface OorRlocAddress {
  readonly line: number;
  readonly address: string | undefined;
  readonly priority: number;
  readonly weight: number;
  readonly local: boolean;
}

export interface OorRlocIface {
  readonly line: number;
  readonly interface: string | undefined;
  readonly ipVersion: number;
  readonly priority: number;
  readonly weight: number;
}

export interface OorDatabaseMapping {
  readonly line: number;
  readonly eidPrefix: string | undefined;
  readonly iid: number;
  readonly ttl: number;
  readonly rlocAddresses: readonly OorRlocAddress[];
  readonly rlocIfaces: readonly OorRlocIface[];
}

export interface OorMapServer {
  readonly line: number;
  readonly address: string | undefined;
  readonly keyType: number;
  readonly key: string | undefined;
  readonly proxyReply: boolean;
}

export interface OorXtrConf {
  readonly debug: number;
  readonly mapRequestRetries: number;
  readonly operatingMode: string | undefined;
  readonly encapsulation: string;
  readonly rlocProbing: { readonly interval: number; readonly retries: number; readonly retriesInterval: number } | undefined;
  readonly mapResolvers: readonly string[];
  readonly mapServers: readonly OorMapServer[];
  readonly databaseMappings: readonly OorDatabaseMapping[];
}

/** Last value of a single option (libconfuse keeps the last assignment), by case-insensitive name. */
function scalarOf(entries: readonly ConfEntry[], name: string): ConfScalar | undefined {
  let found: ConfScalar | undefined;
  for (const e of entries) if (e.kind === 'scalar' && e.name.toLowerCase() === name) found = e.value;
  return found;
}
const intOf = (entries: readonly ConfEntry[], name: string, dflt: number): number => {
  const v = scalarOf(entries, name);
  return v === undefined ? dflt : confInt(v.text);
};
const boolOf = (entries: readonly ConfEntry[], name: string, dflt: boolean): boolean => {
  const v = scalarOf(entries, name);
  return v === undefined ? dflt : confBool(v.text);
};
const sectionsOf = (entries: readonly ConfEntry[], name: string): Array<Extract<ConfEntry, { kind: 'section' }>> =>
  entries.filter((e): e is Extract<ConfEntry, { kind: 'section' }> => e.kind === 'section' && e.name.toLowerCase() === name);

function listOf(entries: readonly ConfEntry[], name: string): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.toLowerCase() !== name) continue;
    if (e.kind === 'list') out.push(...e.items.map((i) => i.text));
    else if (e.kind === 'scalar') out.push(e.value.text);
  }
  return out;
}

/** The xTR-relevant values of a parsed file, defaults as in OOR 1.3's cfg_opt_t tables. */
export function readXtrConf(entries: readonly ConfEntry[]): OorXtrConf {
  const probing = sectionsOf(entries, 'rloc-probing')[0];
  return {
    debug: intOf(entries, 'debug', 0),
    mapRequestRetries: intOf(entries, 'map-request-retries', 0),
    operatingMode: scalarOf(entries, 'operating-mode')?.text,
    encapsulation: scalarOf(entries, 'encapsulation')?.text ?? 'LISP',
    rlocProbing: probing && {
      interval: intOf(probing.entries, 'rloc-probe-interval', 0),
      retries: intOf(probing.entries, 'rloc-probe-retries', 3),
      retriesInterval: intOf(probing.entries, 'rloc-probe-retries-interval', 10),
    },
    mapResolvers: listOf(entries, 'map-resolver'),
    mapServers: sectionsOf(entries, 'map-server').map((s) => ({
      line: s.line,
      address: scalarOf(s.entries, 'address')?.text,
      keyType: intOf(s.entries, 'key-type', 1),
      key: scalarOf(s.entries, 'key')?.text,
      proxyReply: boolOf(s.entries, 'proxy-reply', false),
    })),
    databaseMappings: sectionsOf(entries, 'database-mapping').map((m) => ({
      line: m.line,
      eidPrefix: scalarOf(m.entries, 'eid-prefix')?.text,
      iid: intOf(m.entries, 'iid', 0),
      ttl: intOf(m.entries, 'ttl', 10),
      rlocAddresses: sectionsOf(m.entries, 'rloc-address').map((r) => ({
        line: r.line,
        address: scalarOf(r.entries, 'address')?.text,
        priority: intOf(r.entries, 'priority', 1),
        weight: intOf(r.entries, 'weight', 100),
        local: boolOf(r.entries, 'local', true),
      })),
      rlocIfaces: sectionsOf(m.entries, 'rloc-iface').map((r) => ({
        line: r.line,
        interface: scalarOf(r.entries, 'interface')?.text,
        ipVersion: intOf(r.entries, 'ip_version', 4),
        priority: intOf(r.entries, 'priority', 1),
        weight: intOf(r.entries, 'weight', 100),
      })),
    })),
  };
}

function priorityWeightProblems(line: number, what: string, priority: number, weight: number): ConfProblem[] {
  const out: ConfProblem[] = [];
  // validate_priority_weight: OOR drops the locator when these are out of range.
  if (priority < -1 || priority > 255) out.push({ line, problem: `${what}: priority ${priority} is outside 0..255` });
  if (weight < 0 || weight > 255) out.push({ line, problem: `${what}: weight ${weight} is outside 0..255` });
  return out;
}

/** The values OOR 1.3 would refuse, exit on, or silently alter in an xTR config. */
export function checkXtrSemantics(conf: OorXtrConf): ConfProblem[] {
  const problems: ConfProblem[] = [];
  const at = (line: number, problem: string): void => void problems.push({ line, problem });
  if (conf.operatingMode === undefined) at(1, 'operating-mode is not set (OOR then configures nothing)');
  else if (conf.operatingMode.toLowerCase() !== 'xtr') at(1, `operating-mode is '${conf.operatingMode}', not xTR`);
  if (!['lisp', 'vxlan-gpe'].includes(conf.encapsulation.toLowerCase())) at(1, `unknown encapsulation '${conf.encapsulation}'`);
  if (conf.debug < 0 || conf.debug > 3) at(1, `debug ${conf.debug} is outside 0..3`);
  if (conf.mapResolvers.length === 0) at(1, 'no map-resolver: Map-Requests would go nowhere');
  conf.mapResolvers.forEach((r) => {
    if (canonicalIp(r) === null) at(1, `map-resolver '${r}' is not an IP address`);
  });
  if (conf.mapServers.length === 0) at(1, 'no map-server: nothing would be registered');
  for (const ms of conf.mapServers) {
    if (ms.address === undefined || ms.key === undefined) at(ms.line, 'map-server needs address and key (OOR exits)');
    if (ms.keyType !== 1) at(ms.line, `map-server key-type ${ms.keyType}: OOR supports only 1 (HMAC-SHA-1-96) and exits`);
    if (ms.address !== undefined && canonicalIp(ms.address) === null) at(ms.line, `map-server address '${ms.address}' is not an IP address`);
  }
  if (conf.databaseMappings.length === 0) at(1, 'no database-mapping: the xTR would serve no EID');
  for (const m of conf.databaseMappings) {
    if (m.eidPrefix === undefined) {
      at(m.line, 'database-mapping without eid-prefix (OOR stops reading mappings)');
    } else {
      try {
        parseEidPrefix(m.eidPrefix, 0);
      } catch (err) {
        at(m.line, `eid-prefix: ${(err as Error).message}`);
      }
    }
    if (m.iid < 0 || m.iid > 16777215) at(m.line, `iid ${m.iid} is outside 0..16777215 (OOR resets it to 0)`);
    if (m.ttl < 1) at(m.line, `ttl ${m.ttl} is below 1 minute (OOR raises it to 1)`);
    if (m.rlocAddresses.length + m.rlocIfaces.length === 0) at(m.line, 'database-mapping without any RLOC');
    for (const r of m.rlocAddresses) {
      if (r.address === undefined) at(r.line, 'rloc-address without address (OOR stops reading mappings)');
      else if (canonicalIp(r.address) === null) at(r.line, `rloc-address '${r.address}' is not an IP address`);
      problems.push(...priorityWeightProblems(r.line, 'rloc-address', r.priority, r.weight));
    }
    for (const r of m.rlocIfaces) {
      if (r.interface === undefined) at(r.line, 'rloc-iface without interface (OOR stops reading mappings)');
      if (r.ipVersion !== 4 && r.ipVersion !== 6) at(r.line, `rloc-iface ip_version ${r.ipVersion} is neither 4 nor 6`);
      problems.push(...priorityWeightProblems(r.line, 'rloc-iface', r.priority, r.weight));
    }
  }
  return problems;
}

/** Parse + option table + xTR semantics: every problem OOR 1.3 would have with `text`. */
export function checkOorXtrFile(text: string): { conf?: OorXtrConf; problems: ConfProblem[] } {
  let entries: ConfEntry[];
  try {
    entries = parseOorConf(text);
  } catch (err) {
    if (err instanceof ConfSyntaxError) return { problems: [{ line: err.line, problem: err.problem }] };
    throw err;
  }
  const typeProblems = checkOptionTypes(entries);
  if (typeProblems.length > 0) return { problems: typeProblems };
  const conf = readXtrConf(entries);
  return { conf, problems: checkXtrSemantics(conf) };
}
