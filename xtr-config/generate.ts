// Pure spec -> files: one config file per xTR of a known target (targets/) and the matching
// livmap server config. Nothing here touches the file system; `write.ts` does that once
// everything has been built.
import { ConfigError } from '../mapserver/json/convert.js';
import { resolveConfig } from '../mapserver/config/load.js';
import type { ConfigJson, KeyJson, SiteJson } from '../mapserver/json/schema.js';
import { containsPrefix, formatBareEidPrefix, formatEidPrefix } from '../mapserver/codec/prefix.js';
import { SpecError, type Key, type Vm, type XtrSpec } from './spec.js';
import { xtrTarget } from './targets/index.js';

/** livmap allows this many keys per site (SiteJson.keys maxItems). */
const MAX_SITE_KEYS = 8;

export interface XtrFile {
  /** File name inside the output directory, e.g. `<xtr name>.conf`. */
  readonly fileName: string;
  readonly xtr: string;
  readonly site: string;
  readonly text: string;
  /** EID prefixes this xTR registers (site prefixes, then the VMs currently at its site). */
  readonly eids: readonly string[];
}

export interface Generated {
  readonly xtrFiles: readonly XtrFile[];
  readonly livmapConfig: ConfigJson;
  /** `livmapConfig` as written to disk (2-space JSON, trailing newline). */
  readonly livmapJson: string;
}


function keyJson(key: Key): KeyJson {
  return { alg: key.alg, secret: key.secret };
}

/** Own key first, then the keys of other sites in spec order, each (alg, secret) once. */
function uniqueKeys(keys: readonly Key[]): KeyJson[] {
  const seen = new Set<string>();
  const out: KeyJson[] = [];
  for (const k of keys) {
    const id = `${k.alg}\u0000${k.secret}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(keyJson(k));
  }
  return out;
}

/** The livmap server config matching the spec (see the README section on xtr-config for the rules). */
function livmapConfig(spec: XtrSpec): ConfigJson {
  // An xTR signs every Map-Register with its own site's key, so the livmap site owning a VM's EID
  // must also hold the key of every site the VM may run at.
  const keysFor = (vms: readonly Vm[]): Key[] => vms.flatMap((vm) => spec.sites.filter((s) => vm.mayRunAt.includes(s.name)).map((s) => s.key));
  const checkKeyCount = (keys: readonly KeyJson[], field: string, name: string): void => {
    if (keys.length > MAX_SITE_KEYS) {
      throw new SpecError(field, `'${name}' would need ${keys.length} keys (its own plus those of the sites its VMs may run at); livmap allows ${MAX_SITE_KEYS}`);
    }
  };

  const sites: SiteJson[] = spec.sites.map((site, i) => {
    const homed = spec.vms.filter((vm) => vm.home.kind === 'site' && vm.home.name === site.name);
    const keys = uniqueKeys([site.key, ...keysFor(homed)]);
    checkKeyCount(keys, `sites[${i}].key`, site.name);
    return {
      name: site.name,
      ...(site.description !== undefined ? { description: site.description } : {}),
      keys,
      prefixes: site.prefixes.map((p) => ({
        eid: formatBareEidPrefix(p.eid),
        iid: p.eid.iid,
        // The Map-Server accepts a VM's host route only where the covering prefix allows more-specifics.
        acceptMoreSpecifics: p.acceptMoreSpecifics || homed.some((vm) => containsPrefix(p.eid, vm.eid)),
      })),
    };
  });
  spec.mobilePrefixes.forEach((m, i) => {
    const homed = spec.vms.filter((vm) => vm.home.kind === 'mobile' && vm.home.name === m.name);
    const keys = uniqueKeys(homed.length > 0 ? keysFor(homed) : spec.sites.map((s) => s.key));
    checkKeyCount(keys, `mobilePrefixes[${i}]`, m.name);
    sites.push({
      name: m.name,
      description: m.description ?? 'mobile prefix: only migratable VMs register here',
      keys,
      prefixes: [{ eid: formatBareEidPrefix(m.eid), iid: m.eid.iid, acceptMoreSpecifics: true }],
    });
  });
  return { dataDir: spec.livmap.dataDir, lisp: { listen: [...spec.livmap.listen] }, sites, mappings: [] };
}

/** Builds every output in memory. Throws SpecError for problems only visible at this stage. */
export function generate(spec: XtrSpec): Generated {
  const config = livmapConfig(spec);
  try {
    resolveConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new SpecError(`(generated livmap config) ${err.field}`, err.problem);
    throw err;
  }
  const xtrFiles: XtrFile[] = [];
  for (const site of spec.sites) {
    const vms = spec.vms.filter((vm) => vm.site === site.name);
    for (const xtr of site.xtrs) {
      // An external xTR is configured elsewhere: it only counts in the livmap config.
      if (xtr.target === 'external') continue;
      const { fileName, text } = xtrTarget(xtr.target).render({ spec, site, xtr, vms });
      xtrFiles.push({
        fileName,
        xtr: xtr.name,
        site: site.name,
        text,
        eids: [...site.prefixes.map((p) => formatEidPrefix(p.eid)), ...vms.map((vm) => formatEidPrefix(vm.eid))],
      });
    }
  }
  return { xtrFiles, livmapConfig: config, livmapJson: `${JSON.stringify(config, null, 2)}\n` };
}
