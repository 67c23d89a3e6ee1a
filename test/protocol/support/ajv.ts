import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** An ajv for the draft zod emits (2020-12); strict, so a schema ajv would misread fails loudly. */
export function makeAjv(): Ajv2020 {
  return new Ajv2020({ allErrors: true, strict: true });
}

/** Compiles a JSON Schema, checking that it declares the draft this ajv implements. */
export function compile(ajv: Ajv2020, schema: Record<string, unknown>): ValidateFunction {
  if (schema.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
    throw new Error(`schema declares ${String(schema.$schema)}; this ajv reads draft 2020-12`);
  }
  return ajv.compile(schema);
}

/** ajv's error locations in the codec's path format (`a.b[2].c`), a missing field included. */
export function ajvPaths(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const parts = e.instancePath.split('/').slice(1).map(unescapePointer);
    if (e.keyword === 'required')
      parts.push(String((e.params as { missingProperty: string }).missingProperty));
    let out = '';
    for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
    return out === '' ? '(root)' : out;
  });
}

function unescapePointer(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}
