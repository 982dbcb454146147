// `livmap serve`'s logger: pino JSON for machines (not a terminal, or --log-format json), and one
// readable line per entry on a terminal: local time, level, message, then key=value fields.
// A few lines of formatting instead of pino-pretty: no worker thread, no extra dependency.
import { Writable } from 'node:stream';
import { styleText } from 'node:util';
import { pino, type Logger } from 'pino';

export type LogFormat = 'auto' | 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'pretty', 'json'];

const LEVELS: Readonly<Record<number, { name: string; style: Parameters<typeof styleText>[0] }>> = {
  10: { name: 'TRACE', style: 'gray' },
  20: { name: 'DEBUG', style: 'gray' },
  30: { name: 'INFO ', style: 'green' },
  40: { name: 'WARN ', style: 'yellow' },
  50: { name: 'ERROR', style: 'red' },
  60: { name: 'FATAL', style: ['red', 'bold'] },
};

/** Fields pino adds that the line already shows (or that say nothing on one host). */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? String(value);
}

/** One pino JSON line as `12:04:05.123 INFO  message key=value ...`. */
export function prettyLine(json: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const paint = (style: Parameters<typeof styleText>[0], text: string): string => (color ? styleText(style, text, { validateStream: false }) : text);
  const time = typeof entry.time === 'number' ? new Date(entry.time) : new Date();
  const clock = `${time.toTimeString().slice(0, 8)}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const level = LEVELS[entry.level as number] ?? { name: String(entry.level), style: 'white' };
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${paint('cyan', key)}=${fieldText(value)}`);
  return `${paint('gray', clock)} ${paint(level.style, level.name)} ${String(entry.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** A sink that turns pino's JSON lines into pretty ones on `out`. */
export function prettyStream(out: NodeJS.WritableStream & { isTTY?: boolean }, color = out.isTTY === true && !process.env.NO_COLOR): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString();
      let end: number;
      let text = '';
      while ((end = pending.indexOf('\n')) >= 0) {
        text += prettyLine(pending.slice(0, end), color);
        pending = pending.slice(end + 1);
      }
      if (text) out.write(text, () => done());
      else done();
    },
  });
}

/** Pretty on a terminal unless asked otherwise; JSON when stdout is a file or a pipe. */
export function createLogger(level: string, format: LogFormat, out: NodeJS.WriteStream = process.stdout): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && out.isTTY === true);
  return pretty ? pino({ level }, prettyStream(out)) : pino({ level });
}
