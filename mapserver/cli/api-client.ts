// The operator verbs' side of the REST API: where it is, which token, and what an answer means
// as an exit code. Shared by sites, registrations, lookup, move, clear, events and --version.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Exit codes of the API verbs (also listed by `livmap help`). */
export const EXIT = {
  ok: 0,
  /** Not found, a negative answer, or a request the server refused on its merits (404, 409). */
  negative: 1,
  /** Bad arguments, here or as judged by the API (400). */
  usage: 2,
  /** Nothing answers at the API address (connection refused, timeout, not livmap). */
  unreachable: 3,
  /** The API refused the token (401/403). */
  auth: 4,
  /** The API failed (5xx) or answered something this CLI does not understand. */
  server: 5,
} as const;

export const EXIT_CODES_HELP = `exit codes of the API verbs (sites, registrations, lookup, move, clear, events):
  0  ok
  1  not found, negative answer, or refused on its merits (HTTP 404, 409)
  2  usage: bad arguments (also HTTP 400)
  3  cannot reach the API (nothing listens there, timeout)
  4  authentication refused (HTTP 401): wrong or missing token
  5  the API failed (HTTP 5xx) or gave an answer this CLI does not understand`;

/** Options every API verb accepts, for parseArgs. */
export const API_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  config: { type: 'string' },
  data: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const API_OPTIONS_HELP = `  --api URL          the livmap API (default: $LIVMAP_API, else api.listen of --config, else http://127.0.0.1:8080)
  --token T          bearer token (default: $LIVMAP_TOKEN, $LIVMAP_API_TOKEN, api.token of --config,
                     else the api-token file in the data directory)
  --config FILE      the server's config file: API address, token, data directory
  --data DIR         the server's data directory (default: dataDir of --config, else ./data)
  --json             print the API's JSON answer instead of a table
  --timeout MS       give up on the API after MS milliseconds (default 5000)
  -h, --help         this help`;

export class CliError extends Error {
  /** `help`: print the verb's usage after the message (our own argument checks, not the API's answers). */
  constructor(readonly exitCode: number, message: string, readonly help = false) {
    super(message);
    this.name = 'CliError';
  }
}

export interface ApiTarget {
  readonly url: string;
  readonly token: string | undefined;
  readonly timeoutMs: number;
}

interface ApiFlags {
  readonly api?: string | undefined;
  readonly token?: string | undefined;
  readonly config?: string | undefined;
  readonly data?: string | undefined;
  readonly timeout?: string | undefined;
}

/** The URL of a host:port as the API config writes it ([v6]:port stays bracketed). */
function listenUrl(listen: string): string {
  const host = listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${host}`;
}

/** Where the API is and which token to send, from flags, the environment, the config or the data dir. */
export function apiTarget(flags: ApiFlags, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  let config: { dataDir?: unknown; api?: { listen?: unknown; token?: unknown } } = {};
  if (flags.config) {
    try {
      config = JSON.parse(readFileSync(flags.config, 'utf8')) as typeof config;
    } catch (err) {
      throw new CliError(EXIT.usage, `cannot read --config ${flags.config}: ${(err as Error).message}`);
    }
  }
  const configListen = typeof config.api?.listen === 'string' ? config.api.listen : undefined;
  const url = (flags.api ?? env.LIVMAP_API ?? (configListen ? listenUrl(configListen) : 'http://127.0.0.1:8080')).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError(EXIT.usage, `--api '${url}' is not an http:// or https:// URL`, true);
  const timeoutMs = flags.timeout === undefined ? 5000 : Number(flags.timeout);
  if (!(timeoutMs > 0)) throw new CliError(EXIT.usage, '--timeout must be a positive number of milliseconds', true);
  const configToken = typeof config.api?.token === 'string' ? config.api.token : undefined;
  let token = flags.token ?? env.LIVMAP_TOKEN ?? env.LIVMAP_API_TOKEN ?? configToken;
  if (token === undefined) {
    // The server resolves dataDir against the config file's directory; so do we.
    const dataDir = flags.data ?? (typeof config.dataDir === 'string' && flags.config ? resolve(dirname(flags.config), config.dataDir) : './data');
    try {
      token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim() || undefined;
    } catch {
      // no token file: the API will say 401, and we say where a token comes from
    }
  }
  return { url, token, timeoutMs };
}

export interface ApiAnswer<T> {
  readonly status: number;
  readonly body: T;
}

/** One API request; throws CliError with the exit code its failure means. Statuses in `accept` are returned. */
export async function apiRequest<T>(
  target: ApiTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { readonly body?: unknown; readonly accept?: readonly number[]; /** outside /api/v1 (e.g. /version) */ readonly root?: boolean } = {},
): Promise<ApiAnswer<T>> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${options.root ? '' : '/api/v1'}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (err) {
    throw unreachable(target, err);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliError(EXIT.server, `${target.url} answered ${method} ${path} with HTTP ${response.status} and no JSON: is it livmap's API?`);
  }
  if ((response.ok && !options.accept) || options.accept?.includes(response.status)) return { status: response.status, body: body as T };
  throw statusError(target, response.status, body, `${method} ${path}`);
}

export function unreachable(target: ApiTarget, err: unknown): CliError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const why = e.name === 'TimeoutError' ? `no answer within ${target.timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
  return new CliError(EXIT.unreachable, `cannot reach the livmap API at ${target.url} (${why}); is \`livmap serve\` running? (--api URL or $LIVMAP_API)`);
}

export function statusError(target: ApiTarget, status: number, body: unknown, what: string): CliError {
  const message = typeof (body as { message?: unknown })?.message === 'string' ? (body as { message: string }).message : `HTTP ${status}`;
  if (status === 401 || status === 403) {
    const hint = target.token ? 'the token was refused' : 'no token found';
    return new CliError(EXIT.auth, `${message} (${hint}; give --token, $LIVMAP_TOKEN, --config or --data DIR with its api-token file)`);
  }
  if (status === 400) return new CliError(EXIT.usage, message);
  if (status === 404 || status === 409) return new CliError(EXIT.negative, message);
  return new CliError(EXIT.server, `${what}: ${message}`);
}

/** Fixed-width columns; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
