// The migration lab (xtr-config/lab.ts) on plain Docker, wired the way GNS3 wires it: every
// container starts with `--network none`; each of its adapters is a veth whose other end lives in
// one "wires" network namespace, and a link is a bridge there joining two such ends. Re-linking
// the VM moves its wire end to another bridge, as deleting and creating a link in GNS3 does: the
// containers' interfaces and addresses stay. Each node's interfaces are configured from the
// project's own /etc/network/interfaces files (the stanzas GNS3's ifup would run), and its
// config volumes are the project's project-files directories, so the containers run the very
// project `livmap gns3` wrote.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Lab, LabEnd, LabNode } from '../../xtr-config/lab.js';

const run = promisify(execFile);

export interface DockerLabOptions {
  /** GNS3 project directory written by `livmap gns3` (holds project-files/docker/<node_id>/...). */
  readonly projectDir: string;
  readonly nodeIds: ReadonlyMap<string, string>;
  /** Image per lab image name (default livmap/<name>). */
  readonly images?: Partial<Record<LabNode['image'], string>>;
  /** Prefix of container names and of the wires namespace; unique per run. */
  readonly prefix: string;
  readonly log?: (line: string) => void;
}

interface Stanza {
  readonly iface: string;
  readonly address?: string;
  readonly netmask?: string;
  readonly gateway?: string;
  readonly hwaddress?: string;
  readonly up: readonly string[];
}

/** The static stanzas of an interfaces file, in order. */
export function parseInterfaces(text: string): Stanza[] {
  const out: Array<{ iface: string; address?: string; netmask?: string; gateway?: string; hwaddress?: string; up: string[] }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('auto ')) continue;
    const [word, ...rest] = line.split(/\s+/);
    const current = out.at(-1);
    if (word === 'iface') out.push({ iface: rest[0]!, up: [] });
    else if (!current) throw new Error(`interfaces: option outside a stanza: ${line}`);
    else if (word === 'address' || word === 'netmask' || word === 'gateway' || word === 'hwaddress') current[word] = rest.join(' ');
    else if (word === 'up') current.up.push(rest.join(' '));
    else throw new Error(`interfaces: unsupported option: ${line}`);
  }
  return out;
}

function maskLength(mask: string): number {
  return mask.split('.').reduce((n, o) => n + Number(o).toString(2).replace(/0/g, '').length, 0);
}

/** `ip` batch commands for what busybox ifup does with a static stanza (address, link up with MAC, default route, `up` lines). */
export function ifupCommands(stanzas: readonly Stanza[]): string[] {
  const cmds: string[] = [];
  for (const s of stanzas) {
    if (s.address && s.netmask) cmds.push(`addr add ${s.address}/${maskLength(s.netmask)} dev ${s.iface}`);
    // `hwaddress ether MAC` (busybox and Debian ifupdown): the address is the last word.
    const mac = s.hwaddress?.split(/\s+/).pop();
    cmds.push(`link set ${mac ? `address ${mac} ` : ''}dev ${s.iface} up`);
    if (s.gateway) cmds.push(`route add default via ${s.gateway} dev ${s.iface}`);
    for (const u of s.up) {
      if (!u.startsWith('ip ')) throw new Error(`interfaces: only 'up ip ...' lines are supported here: ${u}`);
      cmds.push(u.slice(3));
    }
  }
  return cmds;
}

export class DockerLab {
  private readonly containers = new Map<string, { id: string; pid: number }>();
  private readonly wiresNs: string;
  private readonly bridgeOf = new Map<string, string>(); // wire end -> bridge
  private bridges = 0;
  private wiresCreated = false;

  constructor(
    readonly lab: Lab,
    private readonly options: DockerLabOptions,
  ) {
    this.wiresNs = `${options.prefix}-wires`;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  containerName(node: string): string {
    return `${this.options.prefix}-${node}`;
  }

  /** Wire end (in the wires namespace) of a node's adapter: short, unique per lab. */
  private wireEnd(end: LabEnd): string {
    const index = this.lab.nodes.findIndex((n) => n.name === end.node);
    return `n${index}e${end.adapter}`;
  }

  private async ipWires(...args: string[]): Promise<void> {
    await run('ip', ['-n', this.wiresNs, ...args]);
  }

  /** Starts every container, wires their adapters and links, configures their interfaces. */
  async start(): Promise<void> {
    await run('ip', ['netns', 'add', this.wiresNs]);
    this.wiresCreated = true;
    // Containers are independent until linked: start them side by side (docker run is slow).
    const started = await Promise.allSettled(this.lab.nodes.map((node) => this.startNode(node)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const link of this.lab.links) await this.connect(link.a, link.b);
  }

  private async startNode(node: LabNode): Promise<void> {
    const nodeDir = join(this.options.projectDir, 'project-files', 'docker', this.options.nodeIds.get(node.name)!);
    const image = this.options.images?.[node.image] ?? `livmap/${node.image}`;
    const forwards = node.role === 'router' || node.role === 'xtr';
    const args = [
      'run', '-d', '--name', this.containerName(node.name), '--hostname', node.name, '--network', 'none',
      // What GNS3 grants as --privileged, minus what this machine's root lacks.
      '--cap-add', 'NET_ADMIN', '--device', '/dev/net/tun',
      ...(forwards ? ['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'net.ipv4.conf.all.rp_filter=0', '--sysctl', 'net.ipv4.conf.default.rp_filter=0'] : []),
      ...node.volumes.flatMap((v) => ['-v', `${join(nodeDir, v)}:${v}`]),
      image, ...node.command,
    ];
    const { stdout } = await run('docker', args);
    const id = stdout.trim();
    const { stdout: pidText } = await run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
    const pid = Number(pidText.trim());
    if (!(pid > 0)) throw new Error(`${node.name}: container is not running (pid ${pidText.trim()})`);
    this.containers.set(node.name, { id, pid });
    // Adapters first (GNS3 creates them all, linked or not), then the interfaces file.
    for (const i of node.interfaces) {
      await this.ipWires('link', 'add', this.wireEnd({ node: node.name, adapter: i.adapter }), 'type', 'veth', 'peer', 'name', `eth${i.adapter}`, 'netns', String(pid));
      await this.ipWires('link', 'set', this.wireEnd({ node: node.name, adapter: i.adapter }), 'up');
    }
    const stanzas = parseInterfaces(readFileSync(join(nodeDir, 'etc/network/interfaces'), 'utf8'));
    await this.ipIn(node.name, ['link set lo up', ...ifupCommands(stanzas)]);
    this.log(`${node.name}: ${image} pid ${pid}`);
  }

  /** Runs `ip -batch` commands in a node's network namespace (from the host, no process inside). */
  async ipIn(node: string, commands: readonly string[]): Promise<void> {
    const pid = this.containers.get(node)!.pid;
    await new Promise<void>((resolve, reject) => {
      const child = spawn('nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${node}: ip -batch failed (${code}): ${err.trim()}`))));
      child.stdin.end(`${commands.join('\n')}\n`);
    });
  }

  private async wiresBatch(commands: readonly string[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ip', ['-n', this.wiresNs, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`wires: ip -batch failed (${code}): ${err.trim()}`))));
      child.stdin.end(`${commands.join('\n')}\n`);
    });
  }

  private connectCommands(a: LabEnd, b: LabEnd): string[] {
    const bridge = `br${this.bridges++}`;
    for (const end of [a, b]) this.bridgeOf.set(this.wireEnd(end), bridge);
    return [`link add ${bridge} type bridge`, `link set ${this.wireEnd(a)} master ${bridge}`, `link set ${this.wireEnd(b)} master ${bridge}`, `link set ${bridge} up`];
  }

  private disconnectCommands(end: LabEnd): string[] {
    const bridge = this.bridgeOf.get(this.wireEnd(end));
    if (!bridge) throw new Error(`${end.node} eth${end.adapter} is not linked`);
    for (const [wire, b] of [...this.bridgeOf]) if (b === bridge) this.bridgeOf.delete(wire);
    return [`link del ${bridge}`];
  }

  /** Creates a link: a bridge joining the two wire ends. */
  async connect(a: LabEnd, b: LabEnd): Promise<void> {
    await this.wiresBatch(this.connectCommands(a, b));
  }

  /** Deletes a link (its bridge); both adapters stay, unconnected. */
  async disconnect(end: LabEnd): Promise<void> {
    await this.wiresBatch(this.disconnectCommands(end));
  }

  /** Re-links `end` from wherever it is linked to `to`, in one step (delete link, create link). */
  async relink(end: LabEnd, to: LabEnd): Promise<void> {
    await this.wiresBatch([...this.disconnectCommands(end), ...this.connectCommands(end, to)]);
  }

  /** Whether the two adapters are linked to each other now. */
  linked(a: LabEnd, b: LabEnd): boolean {
    const bridge = this.bridgeOf.get(this.wireEnd(a));
    return bridge !== undefined && this.bridgeOf.get(this.wireEnd(b)) === bridge;
  }

  /** `docker exec` in a node; resolves with its output, rejects on a non-zero exit. */
  async exec(node: string, args: readonly string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
    return run('docker', ['exec', this.containerName(node), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  }

  async logs(node: string): Promise<string> {
    try {
      const { stdout, stderr } = await run('docker', ['logs', '--tail', '200', this.containerName(node)], { maxBuffer: 16 * 1024 * 1024 });
      return `${stdout}${stderr}`;
    } catch (err) {
      return String(err);
    }
  }

  /** Removes every container and the wires namespace (with every bridge and veth in it). */
  async stop(): Promise<void> {
    const names = [...this.lab.nodes.map((n) => this.containerName(n.name))];
    await run('docker', ['rm', '-f', '-v', ...names]).catch(() => undefined);
    this.containers.clear();
    if (this.wiresCreated) await run('ip', ['netns', 'del', this.wiresNs]).catch(() => undefined);
    this.wiresCreated = false;
  }
}

/** Whether docker answers and the images exist; the reason when not. */
export async function dockerReady(images: readonly string[]): Promise<string | undefined> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 10_000 });
  } catch {
    return 'no Docker daemon answers (run .ci/containers.sh)';
  }
  for (const image of images) {
    try {
      await run('docker', ['image', 'inspect', image], { timeout: 10_000 });
    } catch {
      return `image ${image} is missing (run .ci/containers.sh)`;
    }
  }
  for (const tool of [['nsenter', '--version'], ['ip', '-V']] as const) {
    try {
      await run(tool[0], [tool[1]]);
    } catch {
      return `${tool[0]} is missing`;
    }
  }
  return undefined;
}
