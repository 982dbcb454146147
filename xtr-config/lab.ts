// The migration lab (Scenario 3) as a set of nodes, interfaces and links, derived from an
// xtr-config spec: the same topology feeds the GNS3 project (gns3.ts) and the container scenario
// test, so both run exactly the addresses, keys and EIDs of the OOR configs.
//
//   livmap (MS/MR) ── underlay router ──┬── <site>-xtr (one per site, OOR) ── VM port per VM / site host
//     transit prefix                    └── one routed /N per site underlay (spec `underlay`)
//
// Every site xTR has eth0 on its site underlay (default route to the router). A site where a VM
// may run has one "VM port" per such VM; it carries the VM's gateway address (/32) and a host
// route to the VM, with the same MAC on every site, so the VM keeps its address, gateway and ARP
// entry when its link moves to another site. Other sites get one host on their EID prefix: the
// correspondent. Configs that change when a VM moves are written for every place it may run.
import type { EidPrefix } from '../mapserver/codec/types.js';
import { formatEidPrefix, parseEidPrefix } from '../mapserver/codec/prefix.js';
import { generate } from './generate.js';
import { resolveSpec, SpecError, type Site, type Vm, type XtrSpec } from './spec.js';

export type LabRole = 'map-server' | 'router' | 'xtr' | 'vm' | 'host';

export interface LabInterface {
  /** Adapter number: the interface is eth<adapter>. */
  readonly adapter: number;
  readonly purpose: string;
  /** address/length */
  readonly address: string;
  readonly gateway?: string;
  readonly mac?: string;
  /** Extra routes, `ip route add` arguments. */
  readonly routes: readonly string[];
}

export interface LabFile {
  /** Absolute path inside the node. */
  readonly path: string;
  readonly text: string;
}

export interface LabNode {
  readonly name: string;
  readonly role: LabRole;
  /** Image target in docker/Dockerfile: livmap, oor-xtr or host. */
  readonly image: 'livmap' | 'oor-xtr' | 'host';
  readonly site?: string;
  readonly interfaces: readonly LabInterface[];
  /** Arguments to the image's entry point (GNS3 start_command, docker run CMD). */
  readonly command: readonly string[];
  /** Directories that hold the node's config and state (persisted by GNS3). */
  readonly volumes: readonly string[];
  readonly files: readonly LabFile[];
  readonly description: string;
}

export interface LabEnd {
  readonly node: string;
  readonly adapter: number;
}

export interface LabLink {
  readonly a: LabEnd;
  readonly b: LabEnd;
}

export interface VmPlacement {
  readonly site: string;
  /** The xTR node and its VM port for this VM at this site. */
  readonly port: LabEnd;
  /** In every xTR of a site the VM may run at: the OOR config for the VM being at `site`. */
  readonly oorConf: string;
}

export interface LabVm {
  readonly node: string;
  readonly eid: string;
  readonly address: string;
  readonly startSite: string;
  readonly placements: readonly VmPlacement[];
}

export interface Lab {
  readonly nodes: readonly LabNode[];
  /** Links as the project starts (each VM at its spec site). */
  readonly links: readonly LabLink[];
  readonly vms: readonly LabVm[];
  /** A correspondent host (the probe source) and its address, if the spec has a site without VMs. */
  readonly correspondent?: { readonly node: string; readonly address: string };
  readonly mapServer: { readonly node: string; readonly address: string; readonly apiPort: number };
  readonly transit: string;
}

export interface LabOptions {
  /** Prefix of the segment the Map-Server sits on (default: its address's /24). */
  readonly transit?: string;
  /** Operator API port inside the livmap node. */
  readonly apiPort?: number;
  /** UDP port the VM's echo answers on. */
  readonly echoPort?: number;
}

export const OOR_CONF = '/etc/oor/oor.conf';
export const LIVMAP_CONF = '/etc/livmap/livmap.json';
export const LIVMAP_DATA = '/var/lib/livmap';
export const DEFAULT_ECHO_PORT = 7000;

/** Where the xTR config for "VM `vm` runs at `site`" lives in every site xTR. */
export function placementConf(vm: string, site: string): string {
  return `/etc/oor/${vm}-at-${site}.conf`;
}

function ipv4ToInt(text: string): number {
  const parts = text.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

interface V4Net {
  readonly base: number;
  readonly length: number;
}

function v4Net(field: string, prefix: EidPrefix): V4Net {
  if (prefix.address.afi !== 'ipv4') throw new SpecError(field, `${formatEidPrefix(prefix)}: the lab is IPv4 only`);
  if (prefix.length > 30) throw new SpecError(field, `${formatEidPrefix(prefix)}: the lab needs at least a /30 here`);
  return { base: ipv4ToInt(prefix.address.ip), length: prefix.length };
}

function hostIn(net: V4Net, n: number): string {
  return intToIpv4((net.base + n) >>> 0);
}

function lastHost(net: V4Net): number {
  return 2 ** (32 - net.length) - 2;
}

function inNet(net: V4Net, address: string): boolean {
  const mask = net.length === 0 ? 0 : (0xffffffff << (32 - net.length)) >>> 0;
  return ((ipv4ToInt(address) & mask) >>> 0) === net.base;
}

/** The first host number of `net` (counting from `from`, stepping `step`) not in `used`. */
function freeHost(net: V4Net, used: ReadonlySet<string>, from: number, step: 1 | -1): string {
  for (let n = from; n >= 1 && n <= lastHost(net); n += step) {
    const a = hostIn(net, n);
    if (!used.has(a)) return a;
  }
  throw new Error(`no free address in ${intToIpv4(net.base)}/${net.length}`);
}

/** A locally administered MAC for VM port `index`, the same at every site. */
function vmPortMac(index: number): string {
  return `02:4c:56:00:${((index >> 8) & 255).toString(16).padStart(2, '0')}:${(index & 255).toString(16).padStart(2, '0')}`;
}

function siteXtr(site: Site, i: number): { name: string; rloc: string } {
  const oor = site.xtrs.filter((x) => x.target === 'oor');
  if (oor.length !== 1) throw new SpecError(`sites[${i}].xtrs`, `the lab needs exactly one OOR xTR per site ('${site.name}' has ${oor.length})`);
  const xtr = oor[0]!;
  if (xtr.rlocs.length !== 1 || xtr.rlocs[0]!.kind !== 'address') {
    throw new SpecError(`sites[${i}].xtrs`, `the lab needs xTR '${xtr.name}' to have exactly one RLOC given by "address"`);
  }
  return { name: xtr.name, rloc: xtr.rlocs[0]!.address };
}

/** The VM's gateway: the first host of the prefix that homes it (a site or mobile prefix). */
function homePrefix(spec: XtrSpec, vm: Vm): EidPrefix {
  if (vm.home.kind === 'site') {
    const site = spec.sites.find((s) => s.name === vm.home.name)!;
    return site.prefixes.find((p) => p.eid.address.afi === vm.eid.address.afi && p.eid.iid === vm.eid.iid && containsV4(p.eid, vm.eid))!.eid;
  }
  return spec.mobilePrefixes.find((m) => m.name === vm.home.name)!.eid;
}

function containsV4(outer: EidPrefix, inner: EidPrefix): boolean {
  if (outer.address.afi !== 'ipv4' || inner.address.afi !== 'ipv4') return false;
  return outer.length <= inner.length && inNet({ base: ipv4ToInt(outer.address.ip), length: outer.length }, inner.address.ip);
}

/** Builds the lab from a raw spec (validated with resolveSpec). Throws SpecError for specs the lab cannot model. */
export function buildLab(rawSpec: unknown, options: LabOptions = {}): Lab {
  const spec = resolveSpec(rawSpec);
  const apiPort = options.apiPort ?? 8080;
  const echoPort = options.echoPort ?? DEFAULT_ECHO_PORT;
  if (spec.mapServers.length !== 1) throw new SpecError('mapServers', 'the lab runs one livmap node: give exactly one Map-Server');
  const msAddress = spec.mapServers[0]!;
  if (spec.mapResolvers.length !== 1 || spec.mapResolvers[0] !== msAddress) {
    throw new SpecError('mapResolvers', 'the lab runs one livmap node: the Map-Resolver must be the Map-Server');
  }
  if (msAddress.includes(':')) throw new SpecError('mapServers[0]', 'the lab is IPv4 only');
  const transitPrefix = options.transit ?? `${intToIpv4((ipv4ToInt(msAddress) & 0xffffff00) >>> 0)}/24`;
  const transit = v4Net('--transit', parseEidPrefix(transitPrefix, 0));
  if (!inNet(transit, msAddress)) throw new SpecError('--transit', `${transitPrefix} does not contain the Map-Server ${msAddress}`);

  const sites = spec.sites.map((site, i) => {
    const underlayText = (rawSpec as { sites?: Array<{ underlay?: string }> }).sites?.[i]?.underlay;
    if (underlayText === undefined) throw new SpecError(`sites[${i}].underlay`, `the lab routes one underlay per site: give site '${site.name}' an "underlay"`);
    const underlay = v4Net(`sites[${i}].underlay`, parseEidPrefix(underlayText, 0));
    site.prefixes.forEach((p, j) => v4Net(`sites[${i}].eidPrefixes[${j}].eid`, p.eid));
    return { site, underlay, underlayText: `${intToIpv4(underlay.base)}/${underlay.length}`, xtr: siteXtr(site, i) };
  });
  spec.vms.forEach((vm, i) => {
    if (vm.eid.address.afi !== 'ipv4') throw new SpecError(`vms[${i}].eid`, 'the lab is IPv4 only');
    if (vm.eid.iid !== 0) throw new SpecError(`vms[${i}].iid`, 'the lab has no instance IDs on the site side');
  });

  // One config per place each VM may run (the other VMs at their spec sites).
  const placed = (vm: Vm, site: string) => generate({ ...spec, vms: spec.vms.map((v) => (v === vm ? { ...v, site } : v)) });
  const start = generate(spec);
  const confOf = (out: ReturnType<typeof generate>, xtr: string): string => out.xtrFiles.find((f) => f.xtr === xtr)!.text;

  const nodes: LabNode[] = [];
  const links: LabLink[] = [];
  const routerName = 'underlay-router';
  const msNode = 'livmap';
  const routerTransit = freeHost(transit, new Set([msAddress]), 1, 1);
  const livmapConfig = { ...start.livmapConfig, dataDir: LIVMAP_DATA, api: { listen: `0.0.0.0:${apiPort}` } };
  nodes.push({
    name: msNode,
    role: 'map-server',
    image: 'livmap',
    interfaces: [{ adapter: 0, purpose: `transit ${transitPrefix}`, address: `${msAddress}/${transit.length}`, gateway: routerTransit, routes: [] }],
    command: ['serve', '--config', LIVMAP_CONF],
    volumes: ['/etc/livmap', LIVMAP_DATA],
    files: [{ path: LIVMAP_CONF, text: `${JSON.stringify(livmapConfig, null, 2)}\n` }],
    description: `livmap Map-Server/Map-Resolver ${msAddress}; operator API on port ${apiPort} (token in ${LIVMAP_DATA}/api-token)`,
  });

  const routerIfaces: LabInterface[] = [{ adapter: 0, purpose: `transit ${transitPrefix}`, address: `${routerTransit}/${transit.length}`, routes: [] }];
  links.push({ a: { node: routerName, adapter: 0 }, b: { node: msNode, adapter: 0 } });

  const vmPorts = new Map<string, Map<string, LabEnd>>(); // vm name -> site -> port
  let correspondent: Lab['correspondent'];
  sites.forEach(({ site, underlay, underlayText, xtr }, i) => {
    const gateway = freeHost(underlay, new Set([xtr.rloc]), lastHost(underlay), -1);
    routerIfaces.push({ adapter: i + 1, purpose: `underlay of site ${site.name} ${underlayText}`, address: `${gateway}/${underlay.length}`, routes: [] });
    links.push({ a: { node: routerName, adapter: i + 1 }, b: { node: xtr.name, adapter: 0 } });
    const ifaces: LabInterface[] = [{ adapter: 0, purpose: `RLOC on the underlay of site ${site.name}`, address: `${xtr.rloc}/${underlay.length}`, gateway, routes: [] }];
    const files: LabFile[] = [{ path: OOR_CONF, text: confOf(start, xtr.name) }];
    const mobile = spec.vms.filter((vm) => vm.mayRunAt.includes(site.name));
    mobile.forEach((vm, k) => {
      const vmIndex = spec.vms.indexOf(vm);
      const gw = hostIn(v4Net('vm home', homePrefix(spec, vm)), 1);
      ifaces.push({
        adapter: k + 1,
        purpose: `port of VM ${vm.name} (${formatEidPrefix(vm.eid)}) when it runs at site ${site.name}`,
        address: `${gw}/32`,
        mac: vmPortMac(vmIndex + 1),
        routes: [`${formatEidPrefix(vm.eid)} dev eth${k + 1}`],
      });
      const ports = vmPorts.get(vm.name) ?? new Map<string, LabEnd>();
      ports.set(site.name, { node: xtr.name, adapter: k + 1 });
      vmPorts.set(vm.name, ports);
    });
    for (const vm of spec.vms) {
      for (const where of vm.mayRunAt) files.push({ path: placementConf(vm.name, where), text: confOf(placed(vm, where), xtr.name) });
    }
    // `ifaces` gets the LAN port below when the site has no VM.
    nodes.push({
      name: xtr.name,
      role: 'xtr',
      image: 'oor-xtr',
      site: site.name,
      interfaces: ifaces,
      command: [],
      volumes: ['/etc/oor'],
      files,
      description: `OOR xTR of site ${site.name}: RLOC ${xtr.rloc}, EIDs ${site.prefixes.map((p) => formatEidPrefix(p.eid)).join(', ')}`,
    });
    if (mobile.length === 0) {
      const lan = v4Net(`sites[${i}].eidPrefixes[0].eid`, site.prefixes[0]!.eid);
      const lanText = formatEidPrefix(site.prefixes[0]!.eid);
      const gw = hostIn(lan, 1);
      const hostAddress = hostIn(lan, Math.min(10, lastHost(lan)));
      const hostName = `${site.name}-host`;
      ifaces.push({ adapter: 1, purpose: `site ${site.name} LAN ${lanText}`, address: `${gw}/${lan.length}`, routes: [] });
      nodes.push({
        name: hostName,
        role: 'host',
        image: 'host',
        site: site.name,
        interfaces: [{ adapter: 0, purpose: `site ${site.name} LAN ${lanText}`, address: `${hostAddress}/${lan.length}`, gateway: gw, routes: [] }],
        command: ['echo', String(echoPort)],
        volumes: [],
        files: [],
        description: `host ${hostAddress} at site ${site.name} (a correspondent of the VMs: it runs the probe)`,
      });
      links.push({ a: { node: xtr.name, adapter: 1 }, b: { node: hostName, adapter: 0 } });
      correspondent ??= { node: hostName, address: hostAddress };
    }
  });
  nodes.splice(1, 0, {
    name: routerName,
    role: 'router',
    image: 'host',
    interfaces: routerIfaces,
    command: ['router'],
    volumes: [],
    files: [],
    description: 'underlay router between the transit and every site underlay',
  });

  const vms: LabVm[] = spec.vms.map((vm) => {
    const gw = hostIn(v4Net('vm home', homePrefix(spec, vm)), 1);
    const home = homePrefix(spec, vm);
    if (vm.eid.address.afi !== 'ipv4') throw new SpecError('vms', 'the lab is IPv4 only');
    const address = vm.eid.address.ip;
    nodes.push({
      name: vm.name,
      role: 'vm',
      image: 'host',
      site: vm.site,
      interfaces: [{ adapter: 0, purpose: `VM ${vm.name}`, address: `${address}/${home.length}`, gateway: gw, routes: [] }],
      command: ['echo', String(echoPort)],
      volumes: [],
      files: [],
      description: `VM ${vm.name} ${address} (gateway ${gw} at whichever site it runs); answers UDP ${echoPort}`,
    });
    const ports = vmPorts.get(vm.name)!;
    links.push({ a: ports.get(vm.site)!, b: { node: vm.name, adapter: 0 } });
    return {
      node: vm.name,
      eid: formatEidPrefix(vm.eid),
      address,
      startSite: vm.site,
      placements: vm.mayRunAt.map((site) => ({ site, port: ports.get(site)!, oorConf: placementConf(vm.name, site) })),
    };
  });

  return {
    nodes,
    links,
    vms,
    ...(correspondent ? { correspondent } : {}),
    mapServer: { node: msNode, address: msAddress, apiPort },
    transit: transitPrefix,
  };
}

function netmask(length: number): string {
  return intToIpv4(length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0);
}

/**
 * /etc/network/interfaces for a node, in the subset both Debian's ifupdown and the busybox ifup
 * GNS3 runs in Docker nodes understand: static address, netmask, gateway, hwaddress, `up` routes.
 */
export function interfacesFile(node: LabNode): string {
  const lines = [`# ${node.name}: ${node.description}`, '# Generated by `livmap gns3` from the scenario spec.', ''];
  for (const i of node.interfaces) {
    const [address, length] = i.address.split('/') as [string, string];
    lines.push(`# eth${i.adapter}: ${i.purpose}`, `auto eth${i.adapter}`, `iface eth${i.adapter} inet static`);
    lines.push(`\taddress ${address}`, `\tnetmask ${netmask(Number(length))}`);
    if (i.gateway) lines.push(`\tgateway ${i.gateway}`);
    // `ether` first: busybox ifup (GNS3's) takes the word after the class as the address.
    if (i.mac) lines.push(`\thwaddress ether ${i.mac}`);
    for (const r of i.routes) lines.push(`\tup ip route add ${r}`);
    lines.push('');
  }
  return lines.join('\n');
}
