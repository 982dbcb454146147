// The seam for xTR software livmap writes configuration for. A target turns one xTR of the spec
// into the file that software loads; generate.ts, the CLI and the API pick a target by name
// from targets/index.ts, so a second target is one file here plus one line there.
import type { KeyAlgorithm } from '../../mapserver/db/model.js';
import type { Site, Vm, Xtr, XtrSpec } from '../spec.js';

export interface XtrToRender {
  readonly spec: XtrSpec;
  readonly site: Site;
  readonly xtr: Xtr;
  /** The VMs running at the xTR's site now (the xTR registers their host prefixes too). */
  readonly vms: readonly Vm[];
}

export interface XtrTarget {
  /** The spec's `target` value. */
  readonly name: string;
  /** One line for help texts and errors, e.g. "OOR 1.3". */
  readonly software: string;
  /** The key algorithms this software can sign Map-Registers with, preferred first. */
  readonly keyAlgorithms: readonly KeyAlgorithm[];
  /** Why an xTR of this target cannot use `alg` (continues "xTR 'x' "), or undefined when it can. */
  keyProblem(alg: KeyAlgorithm): string | undefined;
  /** The xTR's configuration file; throws on internal errors only (the spec is already valid). */
  render(xtr: XtrToRender): { readonly fileName: string; readonly text: string };
}
