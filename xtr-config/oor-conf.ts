// Writer for OOR's configuration grammar (libconfuse): `name = value`, `name = { a, b }` lists
// and `name { ... }` sections, with `#` comments. The generator builds a small tree and this
// module only decides layout and quoting.

export type ConfValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'str'; readonly value: string; readonly quote?: boolean }
  | { readonly kind: 'bool'; readonly value: boolean; readonly words: 'on-off' | 'true-false' }
  | { readonly kind: 'list'; readonly items: readonly string[] };

export type ConfNode =
  | { readonly kind: 'option'; readonly name: string; readonly value: ConfValue }
  | { readonly kind: 'section'; readonly name: string; readonly body: readonly ConfNode[] }
  | { readonly kind: 'comment'; readonly lines: readonly string[] }
  | { readonly kind: 'blank' };

export const int = (name: string, value: number): ConfNode => ({ kind: 'option', name, value: { kind: 'int', value } });
export const str = (name: string, value: string, quote = false): ConfNode => ({ kind: 'option', name, value: { kind: 'str', value, quote } });
export const bool = (name: string, value: boolean, words: 'on-off' | 'true-false' = 'true-false'): ConfNode => ({
  kind: 'option',
  name,
  value: { kind: 'bool', value, words },
});
export const list = (name: string, items: readonly string[]): ConfNode => ({ kind: 'option', name, value: { kind: 'list', items } });
export const section = (name: string, body: readonly ConfNode[]): ConfNode => ({ kind: 'section', name, body });
export const comment = (...lines: string[]): ConfNode => ({ kind: 'comment', lines });
export const blank: ConfNode = { kind: 'blank' };

const INDENT = '    ';
// libconfuse's unquoted-string token stops at these characters; `//` and `/*` start comments.
const BARE = /^[A-Za-z0-9._:/@-]+$/;

/** A string token libconfuse reads back as `text` exactly. */
export function quoteString(text: string, force = false): string {
  if (!force && BARE.test(text) && !text.includes('//') && !text.includes('/*')) return text;
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new Error(`cannot write control characters into an OOR config: ${JSON.stringify(text)}`);
  // `\$` keeps libconfuse from expanding `${VAR}` inside double quotes.
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function valueText(value: ConfValue, depth: number): string {
  switch (value.kind) {
    case 'int':
      if (!Number.isSafeInteger(value.value)) throw new Error(`not an integer: ${value.value}`);
      return String(value.value);
    case 'str':
      return quoteString(value.value, value.quote);
    case 'bool':
      return value.words === 'on-off' ? (value.value ? 'on' : 'off') : String(value.value);
    case 'list': {
      const pad = INDENT.repeat(depth + 1);
      return value.items.length === 0 ? '{ }' : `{\n${value.items.map((i) => pad + quoteString(i)).join(',\n')}\n${INDENT.repeat(depth)}}`;
    }
  }
}

function writeNodes(nodes: readonly ConfNode[], depth: number, out: string[]): void {
  const pad = INDENT.repeat(depth);
  // Align the `=` within each run of consecutive options, as OOR's own example does.
  const widths: number[] = [];
  for (let i = 0; i < nodes.length; ) {
    let j = i;
    while (j < nodes.length && nodes[j]!.kind === 'option') j++;
    const width = Math.max(0, ...nodes.slice(i, j).map((n) => (n.kind === 'option' ? n.name.length : 0)));
    for (let k = i; k < Math.max(j, i + 1); k++) widths.push(width);
    i = Math.max(j, i + 1);
  }
  nodes.forEach((node, index) => {
    const width = widths[index]!;
    switch (node.kind) {
      case 'blank':
        out.push('');
        break;
      case 'comment':
        for (const line of node.lines) out.push(line === '' ? `${pad}#` : `${pad}# ${line}`);
        break;
      case 'option':
        out.push(`${pad}${node.name.padEnd(width)} = ${valueText(node.value, depth)}`);
        break;
      case 'section':
        out.push(`${pad}${node.name} {`);
        writeNodes(node.body, depth + 1, out);
        out.push(`${pad}}`);
        break;
    }
  });
}

/** The file text: LF line ends, one trailing newline. */
export function formatOorConf(nodes: readonly ConfNode[]): string {
  const out: string[] = [];
  writeNodes(nodes, 0, out);
  return `${out.join('\n')}\n`;
}
