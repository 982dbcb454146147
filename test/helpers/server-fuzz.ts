// Hostile datagrams at a live server: mutated golden-corpus and random bytes, with a valid
// Map-Request after every `validEvery` of them that must still be answered.
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { decode, encode } from '../../mapserver/codec/index.js';
import type { Endpoint } from '../../mapserver/db/model.js';
import { readCapture } from '../../mapserver/pcap/read.js';
import type { Site } from '../../mapserver/db/model.js';
import { parseEidPrefix } from '../../mapserver/codec/prefix.js';
import type { LispServer } from '../../mapserver/compose/server.js';
import type { RateLimit } from '../../mapserver/control/rate-limit.js';
import type { Test } from 'tap';
import { readWhenDrained, startLabServer } from './server.js';
import { arbLispMessage } from './arbitraries.js';
import { ecmRequestBytes, mapRegisterBytes, nonce } from './lisp.js';
import { mutate, rng } from './mutate.js';
import { UdpPeer } from './udp.js';
import { VECTOR_DIR } from './vectors.js';

/** Only loopback: whatever a mutated packet names, the server may not send anywhere else. */
export const loopbackOnly = (to: Endpoint): boolean => /^127\./.test(to.address) || to.address === '::1';

export function hostileCorpus(seed: number): Uint8Array[] {
  const corpus: Uint8Array[] = [];
  for (const name of readdirSync(VECTOR_DIR).filter((n) => n.endsWith('.pcap'))) {
    for (const frame of readCapture(readFileSync(new URL(name, VECTOR_DIR)))) {
      if (frame.udp && (frame.udp.sourcePort === 4342 || frame.udp.destinationPort === 4342)) corpus.push(frame.udp.payload);
    }
  }
  for (const message of fc.sample(arbLispMessage, { numRuns: 300, seed })) corpus.push(encode(message));
  return corpus;
}

export interface ServerFuzzStats {
  readonly hostile: number;
  readonly valid: number;
  readonly answered: number;
  /** Datagrams the server read, and those the kernel dropped for it (full receive buffer), during the run. */
  readonly read: number;
  readonly kernelDrops: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
}

export async function fuzzServer(options: {
  readonly server: LispServer;
  readonly iterations: number;
  readonly seed: number;
  readonly validEvery: number;
  readonly attacker: UdpPeer;
  readonly itr: UdpPeer;
  readonly validEid: string;
  readonly onProgress?: (done: number) => void;
}): Promise<ServerFuzzStats> {
  const [ms] = options.server.addresses() as [Endpoint];
  const r = rng(options.seed);
  const corpus = hostileCorpus(options.seed);
  const rssBefore = process.memoryUsage().rss;
  const kernelDrops = (): Promise<number> => options.server.metrics.value('livmap_udp_receive_buffer_drops_total');
  const before = { read: await options.server.metrics.value('livmap_datagrams_received_total'), kernel: await kernelDrops() };
  let valid = 0;
  let answered = 0;
  for (let i = 1; i <= options.iterations; i++) {
    const bytes = r() < 0.1
      ? Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256))
      : mutate(r, corpus[Math.floor(r() * corpus.length)]!);
    await options.attacker.send(bytes, ms);
    if (i % options.validEvery === 0) {
      valid++;
      const expected = nonce();
      await options.itr.send(ecmRequestBytes({ eid: options.validEid, sourceEid: '172.16.30.10', itr: options.itr.local.address, nonce: expected }), ms);
      // Replies to mutated requests may land here too: wait for a Map-Reply to our EID.
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline) {
        const d = await options.itr.receive(Math.max(1, deadline - Date.now())).catch(() => undefined);
        if (!d) break;
        const m = (() => { try { return decode(d.bytes); } catch { return undefined; } })();
        if (m?.type === 'map-reply' && m.nonce === expected) { answered++; break; }
      }
    }
    if (i % 10_000 === 0) options.onProgress?.(i);
  }
  const after = { read: await readWhenDrained(options.server, 100), kernel: await kernelDrops() };
  return {
    hostile: options.iterations, valid, answered, read: after.read - before.read, kernelDrops: after.kernel - before.kernel,
    rssBeforeMb: rssBefore / 2 ** 20, rssAfterMb: process.memoryUsage().rss / 2 ** 20,
  };
}

/** The valid client's site: its key is not the corpus's, so no replayed golden Map-Register can take it over. */
export const CLOUD_SITE: Site = {
  name: 'cloud',
  keys: [{ alg: 'hmac-sha256', secret: 'cloud-secret' }],
  prefixes: [{ eid: parseEidPrefix('192.168.20.0/24'), acceptMoreSpecifics: false }],
};

export interface FuzzLab {
  readonly server: LispServer;
  readonly etr: UdpPeer;
  readonly attacker: UdpPeer;
  readonly itr: UdpPeer;
}

/** A loopback server (sends filtered to loopback) with the cloud site registered by `etr`, an attacker and an ITR on `base`.1-3. */
export async function startFuzzLab(t: Test, base: string, sites: readonly Site[], rateLimit?: RateLimit): Promise<FuzzLab> {
  const server = await startLabServer(t, { sendFilter: loopbackOnly }, { sites, ...(rateLimit ? { rateLimit } : {}) });
  const [ms] = server.addresses() as [Endpoint];
  const itr = await UdpPeer.bind(`${base}.1`, 4342);
  const etr = await UdpPeer.bind(`${base}.2`);
  const attacker = await UdpPeer.bind(`${base}.3`);
  t.teardown(async () => { await etr.close(); await attacker.close(); await itr.close(); });
  await etr.send(mapRegisterBytes({ eid: '192.168.20.0/24', rlocs: [`${base}.2`], secret: 'cloud-secret', alg: 'hmac-sha256' }), ms);
  await etr.receive();
  return { server, etr, attacker, itr };
}
