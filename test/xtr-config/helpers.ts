// Shared fixtures for the xtr-config tests: the shipped spec and a deep-copy helper to vary it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SPEC_PATH = join(ROOT, 'xtr-config/sites/livcloud.json');
export const GOLDEN_DIR = join(ROOT, 'xtr-config/sites/livcloud');

/** A fresh, mutable copy of the shipped livcloud spec. */
export function livcloudSpec(): Record<string, unknown> & {
  sites: Array<Record<string, unknown> & { xtrs: Array<Record<string, unknown> & { rlocs: Array<Record<string, unknown>> }>; eidPrefixes: Array<Record<string, unknown>>; key: Record<string, unknown> }>;
  vms: Array<Record<string, unknown>>;
} {
  return JSON.parse(readFileSync(SPEC_PATH, 'utf8'));
}
