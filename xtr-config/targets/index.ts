// The xTR targets livmap can configure, by the name a spec gives in `target`.
import { oorTarget } from './oor.js';
import type { XtrTarget } from './target.js';

export type { XtrTarget, XtrToRender } from './target.js';

export const XTR_TARGETS = { oor: oorTarget } as const satisfies Record<string, XtrTarget>;

export type XtrTargetName = keyof typeof XTR_TARGETS;

export const XTR_TARGET_NAMES = Object.keys(XTR_TARGETS) as XtrTargetName[];

export function xtrTarget(name: XtrTargetName): XtrTarget {
  return XTR_TARGETS[name];
}
