// `livmap VERB ...`: dispatches to one module per verb, each with its own --help.
// Verbs load lazily so `livmap decode` does not pay for fastify and LevelDB.
export interface Verb {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const verbs: Record<string, { readonly summary: string; readonly load: () => Promise<Verb> }> = {
  serve: { summary: 'run the Map-Server / Map-Resolver and the operator API', load: async () => (await import('./serve.js')).serveVerb },
  lig: { summary: 'ask a Map-Resolver for an EID (like lig)', load: async () => (await import('./lig.js')).ligVerb },
  register: { summary: 'send a Map-Register like an ETR and check the Map-Notify', load: async () => (await import('./register.js')).registerVerb },
  'xtr-config': { summary: 'write OOR xTR configs (and the matching livmap config) from a spec', load: async () => (await import('./xtr-config.js')).xtrConfigVerb },
  'oor-update': { summary: "replace a running OOR xTR's local EIDs through its local API (no restart)", load: async () => (await import('./oor-update.js')).oorUpdateVerb },
  gns3: { summary: 'write a GNS3 2.2 project of the migration lab from a spec', load: async () => (await import('./gns3.js')).gns3Verb },
  decode: { summary: 'print the LISP messages of a pcap/pcapng capture', load: async () => (await import('./decode.js')).decodeVerb },
};

function usage(): string {
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(11)} ${v.summary}`);
  return `usage: livmap <verb> [options]\n\nverbs:\n${lines.join('\n')}\n\nRun \`livmap <verb> --help\` for a verb's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const verb = Object.hasOwn(verbs, name) ? verbs[name] : undefined;
  if (!verb) {
    process.stderr.write(`livmap: unknown verb '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await verb.load()).run(rest);
}
