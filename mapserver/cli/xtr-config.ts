// `livmap xtr-config`: OOR 1.3 xTR config files (and the matching livmap config) from one spec,
// and `--check` of existing OOR files against OOR 1.3's option table.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from '../../xtr-config/generate.js';
import { checkOorXtrFile } from '../../xtr-config/oor-conf-reader.js';
import { SpecError, resolveSpec } from '../../xtr-config/spec.js';
import { writeAtomically, type OutputFile } from '../../xtr-config/write.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap xtr-config --spec FILE --out DIR [--livmap-config FILE]
       livmap xtr-config --check FILE...

Writes one Open Overlay Router (OOR 1.3) config file per xTR of the spec,
DIR/<xtr-name>.conf, and with --livmap-config the livmap server config that
accepts their registrations. Each migratable VM of the spec is a /32 (/128)
database-mapping, with a short TTL, in the files of its current site's xTRs.
The whole spec is checked before anything is written; errors name the field.

  --spec FILE           scenario spec (JSON; see xtr-config/sites/livcloud.json)
  --out DIR             directory for the .conf files (created if missing)
  --livmap-config FILE  also write the livmap server config (JSON)
  --check               check the given OOR files against OOR 1.3's grammar and option table
  -h, --help            this help
`;

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SpecError(path, `is not valid JSON (${(err as Error).message})`);
  }
}

async function check(files: readonly string[]): Promise<number> {
  let bad = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      process.stderr.write(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
      bad++;
      continue;
    }
    const { conf, problems } = checkOorXtrFile(text);
    if (problems.length > 0) {
      bad++;
      for (const p of problems) process.stderr.write(`${file}:${p.line}: ${p.problem}\n`);
      continue;
    }
    const eids = conf?.databaseMappings.map((m) => (m.iid ? `[${m.iid}] ${m.eidPrefix}` : m.eidPrefix)).join(', ');
    process.stdout.write(`${file}: ok (OOR 1.3 xTR; ${conf?.mapServers.length} map-server, ${conf?.databaseMappings.length} database-mapping: ${eids})\n`);
  }
  return bad > 0 ? 1 : 0;
}

export const xtrConfigVerb: Verb = {
  summary: 'write OOR xTR config files (and the livmap config) from a scenario spec',
  async run(args) {
    const parsed = verbArgs('xtr-config', HELP, {
      args,
      options: {
        spec: { type: 'string' },
        out: { type: 'string' },
        'livmap-config': { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (typeof parsed === 'number') return parsed;
    const { values, positionals } = parsed;
    if (values.check) {
      if (positionals.length === 0 || values.spec || values.out || values['livmap-config']) {
        process.stderr.write(`livmap xtr-config: --check takes only OOR config files\n\n${HELP}`);
        return 2;
      }
      return check(positionals);
    }
    if (positionals.length > 0 || !values.spec || !values.out) {
      process.stderr.write(`livmap xtr-config: --spec FILE and --out DIR are required\n\n${HELP}`);
      return 2;
    }
    let outputs: OutputFile[];
    let summary: string[];
    try {
      const generated = generate(resolveSpec(await readJson(values.spec)));
      outputs = generated.xtrFiles.map((f) => ({ path: join(values.out!, f.fileName), text: f.text }));
      summary = generated.xtrFiles.map((f) => `wrote ${join(values.out!, f.fileName)}  (xTR ${f.xtr}, site ${f.site}: ${f.eids.join(', ')})`);
      const livmapPath = values['livmap-config'];
      if (livmapPath) {
        outputs.push({ path: livmapPath, text: generated.livmapJson });
        const sites = generated.livmapConfig.sites ?? [];
        summary.push(`wrote ${livmapPath}  (livmap config: ${sites.length} sites: ${sites.map((s) => s.name).join(', ')})`);
      }
    } catch (err) {
      if (err instanceof SpecError) {
        process.stderr.write(`livmap xtr-config: invalid spec ${values.spec}: ${err.message}\nnothing was written\n`);
        return 1;
      }
      if ((err as NodeJS.ErrnoException).code !== undefined) {
        process.stderr.write(`livmap xtr-config: cannot read ${values.spec} (${(err as NodeJS.ErrnoException).code})\n`);
        return 1;
      }
      throw err;
    }
    try {
      await writeAtomically(outputs);
    } catch (err) {
      process.stderr.write(`livmap xtr-config: cannot write the output (${(err as Error).message}); nothing was replaced\n`);
      return 1;
    }
    process.stdout.write(`${summary.join('\n')}\n`);
    return 0;
  },
};
