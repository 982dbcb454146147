// Command-line parsing for the bench entry points: `--help` prints the usage, and a mistyped
// option or value gets one line naming it and the usage (exit 2), not a stack trace.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses process.argv for `options`; on --help or bad input prints `usage` and exits. */
export function cliOptions<O extends Options>(options: O, usage: string): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  try {
    const { values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err), usage);
  }
}

/** Reports a bad argument in one line plus the usage, and exits 2. */
export function usageError(message: string, usage: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

/** A whole number option within [min, max]; anything else is a usage error. */
export function intOption(name: string, text: string, min: number, max: number, usage: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) usageError(`--${name} must be a whole number from ${min} to ${max}, got '${text}'`, usage);
  return value;
}

/** The compiled tree of another build for --baseline: DIR/dist when DIR is a checkout, else DIR. */
export function baselineBuild(dir: string): string {
  return resolve(existsSync(join(dir, 'dist')) ? join(dir, 'dist') : dir);
}
