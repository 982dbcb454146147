// `livmap VERB ...`: dispatches to one module per verb, each with its own --help.
// Verbs load lazily so `livmap decode` does not pay for fastify and LevelDB.
import { readFileSync } from 'node:fs';
export interface Verb {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const operate = async () => import('./operate.js');

const verbs: Record<string, { readonly summary: string; readonly load: () => Promise<Verb> }> = {
  serve: { summary: 'run the Map-Server / Map-Resolver and the operator API', load: async () => (await import('./serve.js')).serveVerb },
  sites: { summary: 'show the sites, their xTRs and auth failures (API)', load: async () => (await operate()).sitesVerb },
  registrations: { summary: 'list live registrations, filtered and paged (API)', load: async () => (await operate()).registrationsVerb },
  lookup: { summary: 'what a Map-Request for an EID would get, and why (API)', load: async () => (await operate()).lookupVerb },
  move: { summary: 'move an EID to a site or to locators, now (API)', load: async () => (await operate()).moveVerb },
  clear: { summary: 'drop live registrations of an EID prefix (API)', load: async () => (await operate()).clearVerb },
  events: { summary: 'show recent events or follow them live (API)', load: async () => (await operate()).eventsVerb },
  lig: { summary: 'ask a Map-Resolver for an EID over UDP (like lig)', load: async () => (await import('./lig.js')).ligVerb },
  register: { summary: 'send a Map-Register like an ETR and check the Map-Notify', load: async () => (await import('./register.js')).registerVerb },
  'xtr-config': { summary: 'write OOR xTR configs (and the matching livmap config) from a spec', load: async () => (await import('./xtr-config.js')).xtrConfigVerb },
  'oor-update': { summary: "replace a running OOR xTR's local EIDs through its local API (no restart)", load: async () => (await import('./oor-update.js')).oorUpdateVerb },
  gns3: { summary: 'write a GNS3 2.2 project of the migration lab from a spec', load: async () => (await import('./gns3.js')).gns3Verb },
  decode: { summary: 'print the LISP messages of pcap/pcapng captures', load: async () => (await import('./decode.js')).decodeVerb },
};

async function usage(): Promise<string> {
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(13)} ${v.summary}`);
  const { EXIT_CODES_HELP } = await import('./api-client.js');
  return `usage: livmap <verb> [options]
       livmap --version [--api URL]

verbs:
${lines.join('\n')}

Run \`livmap <verb> --help\` for a verb's options.

${EXIT_CODES_HELP}
Other verbs: 0 ok, 1 the check failed (no answer, authentication failed, malformed input),
2 usage or configuration error.
`;
}

/** livmap's own package.json: two levels up from the sources, three from dist/. */
export function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'livmap' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return 'unknown';
}

async function version(args: string[]): Promise<number> {
  process.stdout.write(`livmap ${packageVersion()} (node ${process.version})\n`);
  if (args.length === 0) return 0;
  const { parseArgs } = await import('node:util');
  const { API_OPTIONS, CliError, EXIT, apiRequest, apiTarget } = await import('./api-client.js');
  try {
    const { values } = parseArgs({ args, strict: true, options: API_OPTIONS });
    const target = apiTarget(values);
    const server = (await apiRequest<{ version: string; node: string }>(target, 'GET', '/version', { root: true })).body;
    process.stdout.write(`server at ${target.url}: livmap ${server.version} (node ${server.node})\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`livmap --version: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`livmap --version: ${(err as Error).message}\n`);
    return EXIT.usage;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V' || name === 'version') return version(rest);
  const verb = Object.hasOwn(verbs, name) ? verbs[name] : undefined;
  if (!verb) {
    process.stderr.write(`livmap: unknown verb '${name}'\n\n${await usage()}`);
    return 2;
  }
  return (await verb.load()).run(rest);
}
