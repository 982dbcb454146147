// Schema validation with messages a person understands: "sites[0].keys[0].alg: must be one of …".
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema, Static } from '@sinclair/typebox';

const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** `/sites/0/keys/0/alg` -> `sites[0].keys[0].alg` */
export function fieldPath(root: string, pointer: string): string {
  let path = root;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(key) ? `[${key}]` : path ? `.${key}` : key;
  }
  return path || '(root)';
}

export function describeSchemaError(root: string, error: ErrorObject): { field: string; problem: string } {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return { field: fieldPath(root, `${error.instancePath}/${String(params.additionalProperty)}`), problem: 'is not a known field' };
  }
  if (error.keyword === 'required') {
    return { field: fieldPath(root, `${error.instancePath}/${String(params.missingProperty)}`), problem: 'is required' };
  }
  if (error.keyword === 'anyOf' || error.keyword === 'enum' || error.keyword === 'const') {
    return { field: fieldPath(root, error.instancePath), problem: 'is not one of the allowed values' };
  }
  return { field: fieldPath(root, error.instancePath), problem: error.message ?? 'is invalid' };
}

export class SchemaError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'SchemaError';
  }
}

/** Validates `value` against a TypeBox schema; throws SchemaError naming the first bad field. */
export function validate<S extends TSchema>(schema: S, value: unknown, root = ''): Static<S> {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  if (!check(value)) {
    const errors = check.errors ?? [];
    // anyOf reports one error per branch; the most specific error is usually the deepest.
    const best = [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
    const { field, problem } = best ? describeSchemaError(root, best) : { field: root || '(root)', problem: 'is invalid' };
    throw new SchemaError(field, problem);
  }
  return value as Static<S>;
}
