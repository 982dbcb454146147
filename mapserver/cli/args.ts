// Every verb reads its arguments the same way: strict parsing, a usage error on stderr with exit
// status 2, and -h/--help printing the verb's help on stdout with status 0.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Parsed<T extends ParseArgsConfig> = ReturnType<typeof parseArgs<T>>;

/**
 * The arguments parsed as node's parseArgs parses `config`, or the exit status when
 * they are wrong (2) or ask for help (0): the caller returns a number as it is.
 */
export function verbArgs<T extends ParseArgsConfig>(verb: string, help: string, config: T): Parsed<T> | number {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    process.stderr.write(`livmap ${verb}: ${(err as Error).message}\n\n${help}`);
    return 2;
  }
  if ((parsed.values as { readonly help?: unknown }).help === true) {
    process.stdout.write(help);
    return 0;
  }
  return parsed;
}
