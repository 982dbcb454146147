// A GNS3 2.2 project (topology file revision 9) for the migration lab: one Docker node per lab
// node, links as in the lab, and each node's files where GNS3 persists a Docker node's volumes:
// project-files/docker/<node_id>/<path inside the container>. GNS3 writes /etc/network/interfaces
// itself only when the file is missing, and its init script runs `ifup -a` before the image's
// entry point, so the addresses are up before OOR or livmap start.
import { createHash } from 'node:crypto';
import { zipSync } from 'fflate';
import { interfacesFile, type Lab, type LabNode } from './lab.js';

/** GNS3 2.2's topology file format revision. */
export const GNS3_REVISION = 9;
export const GNS3_VERSION = '2.2.59';

export interface Gns3Options {
  readonly name: string;
  /** Image name per lab image: defaults to livmap/<target>. */
  readonly images?: Partial<Record<LabNode['image'], string>>;
}

export interface ProjectFile {
  /** Path relative to the project directory. */
  readonly path: string;
  readonly text: string;
}

export interface Gns3Project {
  /** project.gns3 (in a project directory: <name>.gns3). */
  readonly topology: Gns3Topology;
  readonly topologyText: string;
  /** Every file under project-files/. */
  readonly files: readonly ProjectFile[];
  readonly nodeIds: ReadonlyMap<string, string>;
  readonly linkIds: readonly string[];
}

interface Gns3Label {
  text: string;
  style: string;
  x: number;
  y: number;
  rotation: number;
}

export interface Gns3DockerProperties {
  adapters: number;
  aux: null;
  console_http_path: string;
  console_http_port: number;
  console_resolution: string;
  environment: string;
  extra_hosts: string;
  extra_volumes: string[];
  image: string;
  start_command: string;
  usage: string;
}

export interface Gns3Node {
  compute_id: string;
  console: null;
  console_auto_start: boolean;
  console_type: 'telnet' | 'none';
  custom_adapters: never[];
  first_port_name: null;
  height: number;
  label: Gns3Label;
  locked: boolean;
  name: string;
  node_id: string;
  node_type: 'docker';
  port_name_format: string;
  port_segment_size: number;
  properties: Gns3DockerProperties;
  symbol: string;
  template_id: null;
  width: number;
  x: number;
  y: number;
  z: number;
}

export interface Gns3Link {
  link_id: string;
  link_type: 'ethernet';
  nodes: Array<{ adapter_number: number; node_id: string; port_number: number; label: Gns3Label }>;
  suspend: boolean;
}

export interface Gns3Drawing {
  drawing_id: string;
  locked: boolean;
  rotation: number;
  svg: string;
  x: number;
  y: number;
  z: number;
}

export interface Gns3Topology {
  auto_close: boolean;
  auto_open: boolean;
  auto_start: boolean;
  drawing_grid_size: number;
  grid_size: number;
  name: string;
  project_id: string;
  revision: number;
  scene_height: number;
  scene_width: number;
  show_grid: boolean;
  show_interface_labels: boolean;
  show_layers: boolean;
  snap_to_grid: boolean;
  supplier: null;
  topology: { computes: never[]; drawings: Gns3Drawing[]; links: Gns3Link[]; nodes: Gns3Node[] };
  type: 'topology';
  variables: null;
  version: string;
  zoom: number;
}

/** A name-based UUID (RFC 9562 version 5 layout), so regenerating a project keeps its IDs. */
export function nameUuid(...parts: string[]): string {
  const h = createHash('sha1').update(`livmap-gns3\u0000${parts.join('\u0000')}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const SYMBOLS: Record<LabNode['role'], string> = {
  'map-server': ':/symbols/server.svg',
  router: ':/symbols/router.svg',
  xtr: ':/symbols/router.svg',
  vm: ':/symbols/computer.svg',
  host: ':/symbols/computer.svg',
};

function label(text: string): Gns3Label {
  return { text, style: 'font-family: TypeWriter;font-size: 10.0;font-weight: bold;fill: #000000;fill-opacity: 1.0;', x: 0, y: -25, rotation: 0 };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** Lays the lab out in rows: Map-Server, router, xTRs, then VMs and hosts under their site. */
function positions(lab: Lab): Map<string, { x: number; y: number }> {
  const at = new Map<string, { x: number; y: number }>();
  const xtrs = lab.nodes.filter((n) => n.role === 'xtr');
  const spacing = 260;
  const left = -((xtrs.length - 1) * spacing) / 2;
  at.set(lab.mapServer.node, { x: 0, y: -300 });
  for (const n of lab.nodes.filter((n) => n.role === 'router')) at.set(n.name, { x: 0, y: -150 });
  xtrs.forEach((n, i) => at.set(n.name, { x: Math.round(left + i * spacing), y: 0 }));
  const bySite = new Map<string, number>();
  for (const n of lab.nodes.filter((n) => n.role === 'vm' || n.role === 'host')) {
    const xtr = xtrs.find((x) => x.site === n.site);
    const k = bySite.get(n.site ?? '') ?? 0;
    bySite.set(n.site ?? '', k + 1);
    at.set(n.name, { x: (xtr ? at.get(xtr.name)!.x : 0) + k * 90, y: 170 });
  }
  return at;
}

export function buildGns3Project(lab: Lab, options: Gns3Options): Gns3Project {
  const projectId = nameUuid(options.name, 'project');
  const nodeIds = new Map(lab.nodes.map((n) => [n.name, nameUuid(options.name, 'node', n.name)]));
  const idOf = (name: string): string => nodeIds.get(name)!;
  const at = positions(lab);
  const files: ProjectFile[] = [];

  const nodes: Gns3Node[] = lab.nodes.map((n) => {
    const id = idOf(n.name);
    const dir = `project-files/docker/${id}`;
    files.push({ path: `${dir}/etc/network/interfaces`, text: interfacesFile(n) });
    for (const f of n.files) files.push({ path: `${dir}${f.path}`, text: f.text });
    // An empty permission list tells GNS3's init script the volume is already populated, so it
    // does not copy the image's directory over these files on the first start.
    for (const v of n.volumes) files.push({ path: `${dir}${v}/.gns3_perms`, text: '' });
    const adapters = Math.max(...n.interfaces.map((i) => i.adapter)) + 1;
    const image = options.images?.[n.image] ?? `livmap/${n.image}`;
    const { x, y } = at.get(n.name) ?? { x: 0, y: 0 };
    return {
      compute_id: 'local',
      console: null,
      console_auto_start: false,
      console_type: 'telnet',
      custom_adapters: [],
      first_port_name: null,
      height: 59,
      label: label(n.name),
      locked: false,
      name: n.name,
      node_id: id,
      node_type: 'docker',
      port_name_format: 'eth{0}',
      port_segment_size: 0,
      properties: {
        adapters,
        aux: null,
        console_http_path: '/',
        console_http_port: 80,
        console_resolution: '1024x768',
        environment: '',
        extra_hosts: '',
        extra_volumes: [...n.volumes],
        image,
        start_command: n.command.join(' '),
        usage: `${n.description}. Interfaces: ${n.interfaces.map((i) => `eth${i.adapter} ${i.address} (${i.purpose})`).join('; ')}.`,
      },
      symbol: SYMBOLS[n.role],
      template_id: null,
      width: 66,
      x,
      y,
      z: 1,
    };
  });

  const linkIds: string[] = [];
  const links: Gns3Link[] = lab.links.map((l) => {
    const id = nameUuid(options.name, 'link', l.a.node, String(l.a.adapter), l.b.node, String(l.b.adapter));
    linkIds.push(id);
    return {
      link_id: id,
      link_type: 'ethernet',
      nodes: [l.a, l.b].map((end) => ({ adapter_number: end.adapter, node_id: idOf(end.node), port_number: 0, label: { ...label(`eth${end.adapter}`), x: 10, y: 10 } })),
      suspend: false,
    };
  });

  const drawings: Gns3Drawing[] = lab.nodes
    .filter((n) => n.role === 'xtr')
    .map((n) => {
      const { x, y } = at.get(n.name)!;
      const text = `site ${n.site}: ${n.description.replace(/^OOR xTR of site [^:]+: /, '')}`;
      return {
        drawing_id: nameUuid(options.name, 'drawing', n.name),
        locked: false,
        rotation: 0,
        svg: `<svg height="24" width="${text.length * 7}"><text fill="#000000" fill-opacity="1.0" font-family="TypeWriter" font-size="10.0">${escapeXml(text)}</text></svg>`,
        x: x - 60,
        y: y + 60,
        z: 2,
      };
    });

  const topology: Gns3Topology = {
    auto_close: true,
    auto_open: false,
    auto_start: false,
    drawing_grid_size: 25,
    grid_size: 75,
    name: options.name,
    project_id: projectId,
    revision: GNS3_REVISION,
    scene_height: 1000,
    scene_width: 2000,
    show_grid: false,
    show_interface_labels: true,
    show_layers: false,
    snap_to_grid: false,
    supplier: null,
    topology: { computes: [], drawings, links, nodes },
    type: 'topology',
    variables: null,
    version: GNS3_VERSION,
    zoom: 100,
  };
  return { topology, topologyText: `${JSON.stringify(topology, null, 4)}\n`, files, nodeIds, linkIds };
}


/** A deterministic ZIP (every entry dated 1980-01-01, deflated) of the given files. */
export function zipFiles(entries: ReadonlyArray<{ path: string; data: Uint8Array }>): Buffer {
  const mtime = new Date(1980, 0, 1);
  return Buffer.from(zipSync(Object.fromEntries(entries.map((e) => [e.path, [e.data, { level: 9, mtime }]]))));
}

/** The portable .gns3project: project.gns3 at the root and project-files/ beside it. */
export function gns3ProjectZip(project: Gns3Project): Buffer {
  return zipFiles([
    { path: 'project.gns3', data: Buffer.from(project.topologyText, 'utf8') },
    ...project.files.map((f) => ({ path: f.path, data: Buffer.from(f.text, 'utf8') })),
  ]);
}
