// `livmap gns3`: a GNS3 2.2 project of the migration lab (Map-Server, underlay router, one OOR
// xTR per site, the VMs and a correspondent host) from the same spec as `livmap xtr-config`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildGns3Project, gns3ProjectZip } from '../../xtr-config/gns3.js';
import { buildLab } from '../../xtr-config/lab.js';
import { SpecError } from '../../xtr-config/spec.js';
import { writeAtomically, type OutputFile } from '../../xtr-config/write.js';
import { verbArgs } from './args.js';
import type { Verb } from './main.js';

const HELP = `usage: livmap gns3 --spec FILE --out DIR [--zip FILE.gns3project] [--name NAME]
                   [--transit PREFIX] [--image-prefix PREFIX]

Writes a GNS3 2.2 project of the migration lab described by the spec (the one
\`livmap xtr-config\` reads): DIR/NAME.gns3 and DIR/project-files/, and with
--zip the same as a portable .gns3project to import (File > Import portable project).
Nodes are Docker nodes on the images of docker/Dockerfile: livmap (Map-Server),
oor-xtr (one OOR xTR per site), host (underlay router, VMs, correspondent host).
Each site underlay is routed to the Map-Server's transit segment. Every xTR gets
an OOR config per place each VM may run (/etc/oor/<vm>-at-<site>.conf) for
\`livmap oor-update\` when the VM moves.

  --spec FILE            scenario spec (JSON; see xtr-config/sites/livcloud.json)
  --out DIR              project directory (created if missing)
  --zip FILE             also write the portable project
  --name NAME            project name (default livmap-scenario3)
  --transit PREFIX       the Map-Server's segment (default its address's /24)
  --image-prefix PREFIX  image names PREFIX<livmap|oor-xtr|host> (default livmap/)
  -h, --help             this help
`;

export const gns3Verb: Verb = {
  summary: 'write a GNS3 2.2 project of the migration lab from a scenario spec',
  async run(args) {
    const parsed = verbArgs('gns3', HELP, {
      args,
      options: {
        spec: { type: 'string' },
        out: { type: 'string' },
        zip: { type: 'string' },
        name: { type: 'string', default: 'livmap-scenario3' },
        transit: { type: 'string' },
        'image-prefix': { type: 'string', default: 'livmap/' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (typeof parsed === 'number') return parsed;
    const { values } = parsed;
    if (!values.spec || !values.out) {
      process.stderr.write(`livmap gns3: --spec FILE and --out DIR are required\n\n${HELP}`);
      return 2;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(values.name)) {
      process.stderr.write('livmap gns3: --name takes letters, digits, . _ - (it names the .gns3 file)\n');
      return 2;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(values.spec, 'utf8')) as unknown;
    } catch (err) {
      process.stderr.write(`livmap gns3: cannot read ${values.spec} (${(err as Error).message})\n`);
      return 1;
    }
    const prefix = values['image-prefix'];
    let outputs: OutputFile[];
    let summary: string[];
    let zip: Buffer | undefined;
    try {
      const lab = buildLab(raw, values.transit ? { transit: values.transit } : {});
      const project = buildGns3Project(lab, { name: values.name, images: { livmap: `${prefix}livmap`, 'oor-xtr': `${prefix}oor-xtr`, host: `${prefix}host` } });
      outputs = [
        { path: join(values.out, `${values.name}.gns3`), text: project.topologyText },
        ...project.files.map((f) => ({ path: join(values.out!, f.path), text: f.text })),
      ];
      summary = [
        `wrote ${join(values.out, `${values.name}.gns3`)} (GNS3 2.2, revision 9) and ${project.files.length} files under ${join(values.out, 'project-files')}`,
        ...lab.nodes.map((n) => `  ${n.name.padEnd(16)} ${`${prefix}${n.image}`.padEnd(15)} ${n.interfaces.map((i) => `eth${i.adapter} ${i.address}`).join(', ')}`),
      ];
      if (values.zip) zip = gns3ProjectZip(project);
    } catch (err) {
      if (err instanceof SpecError) {
        process.stderr.write(`livmap gns3: cannot build the lab from ${values.spec}: ${err.message}\nnothing was written\n`);
        return 1;
      }
      throw err;
    }
    try {
      if (values.zip && zip) {
        outputs.push({ path: values.zip, text: zip });
        summary.push(`wrote ${values.zip} (portable project, ${zip.length} bytes)`);
      }
      await writeAtomically(outputs);
    } catch (err) {
      process.stderr.write(`livmap gns3: cannot write the output (${(err as Error).message}); nothing was replaced\n`);
      return 1;
    }
    process.stdout.write(`${summary.join('\n')}\n`);
    return 0;
  },
};
