// `livmap VERB ...`: dispatches to one module per verb, each with its own --help.
export interface Verb {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const verbs: Record<string, () => Promise<Verb>> = {
  decode: async () => (await import('./decode.js')).decodeVerb,
  serve: async () => (await import('./serve.js')).serveVerb,
  'xtr-config': async () => (await import('./xtr-config.js')).xtrConfigVerb,
  lig: async () => (await import('./lig.js')).ligVerb,
};

function usage(): string {
  const lines = Object.keys(verbs).map((name) => `  ${name}`);
  return `usage: livmap <verb> [options]\n\nverbs:\n${lines.join('\n')}\n\nRun \`livmap <verb> --help\` for a verb's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const load = verbs[name];
  if (!load) {
    process.stderr.write(`livmap: unknown verb '${name}'\n\n${usage()}`);
    return 2;
  }
  const verb = await load();
  return verb.run(rest);
}
