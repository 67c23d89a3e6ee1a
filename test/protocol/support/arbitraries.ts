import fc from 'fast-check';
import type { JsonSchema } from '../../../scripts/protocol-compat.ts';
import { messageJsonSchema } from '../../../scripts/protocol-schema.ts';
import {
  type Message,
  type MessageType,
  PROTOCOL_VERSION,
  VERSION_INDEPENDENT,
} from '../../../src/protocol/index.ts';

/**
 * fast-check arbitraries derived from the generated JSON Schema, so every message type gets one and
 * a field added to the catalogue is generated without touching the tests. Only the keywords zod
 * emits are understood; anything else fails loudly.
 */

// Strings stay short; a unit may be two UTF-16 code units (zod counts those, JSON Schema counts
// code points), so lengths are capped at half the limit. Lone surrogates survive JSON escaping.
const UNIT = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', '\udfff', '"', '\\', '\u2028', '\u0000') },
);
// fast-check slips `__proto__` into generated strings on purpose; encode refuses such keys (JSON
// readers drop them), which codec.test.ts covers, so valid messages leave them out.
const KEY = fc
  .oneof(
    { weight: 6, arbitrary: fc.string({ unit: UNIT, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom('constructor', 'toString', 'hasOwnProperty', '', 'type') },
  )
  .filter((k) => k !== '__proto__');
const MAX_JSON_DEPTH = 3;

/**
 * Built once per type: `anyMessage`-style arbitraries ask for one per generated value, and deriving
 * the JSON Schema from zod each time was most of a property test's time.
 */
const byType = new Map<MessageType, fc.Arbitrary<Message>>();

/** Arbitrary valid messages of one type, as plain data. */
export function messageArbitrary<T extends MessageType>(
  type: T,
): fc.Arbitrary<Extract<Message, { type: T }>> {
  let arb = byType.get(type);
  if (!arb) {
    arb = buildMessageArbitrary(type);
    byType.set(type, arb);
  }
  return arb as fc.Arbitrary<Extract<Message, { type: T }>>;
}

function buildMessageArbitrary(type: MessageType): fc.Arbitrary<Message> {
  const schema = messageJsonSchema(type);
  let arb = fromSchema(schema, schema, 0) as fc.Arbitrary<Record<string, unknown>>;
  // Any positive `v` matches the schema; only hello, error and supervisor.up are read at any version.
  if (!VERSION_INDEPENDENT.has(type)) arb = arb.map((m) => ({ ...m, v: PROTOCOL_VERSION }));
  if (type === 'hello') {
    // The one zod refinement JSON Schema cannot say: versions.min <= versions.max.
    arb = arb.map((m) => {
      const { min, max } = m.versions as { min: number; max: number };
      return { ...m, versions: { min: Math.min(min, max), max: Math.max(min, max) } };
    });
  }
  return arb as fc.Arbitrary<Message>;
}

function fromSchema(node: unknown, root: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const s = node as JsonSchema;
  if (typeof s.$ref === 'string') {
    const target = s.$ref
      .slice(2)
      .split('/')
      .reduce<unknown>((n, k) => (n as JsonSchema)[k], root);
    // Recursive JSON values: stop nesting after a few levels.
    if (depth >= MAX_JSON_DEPTH)
      return fc.oneof(fc.string({ unit: UNIT, maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
    return fc.constant(null).chain(() => fromSchema(target, root, depth + 1));
  }
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const union = (s.oneOf ?? s.anyOf) as unknown[] | undefined;
  if (union) return fc.oneof(...union.map((b) => fromSchema(b, root, depth)));
  switch (s.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return integer(s);
    case 'number':
      return number(s);
    case 'string':
      return string(s);
    case 'array': {
      const maxLength = Math.min((s.maxItems as number | undefined) ?? 4, 4);
      return fc.array(fromSchema(s.items, root, depth + 1), {
        minLength: (s.minItems as number | undefined) ?? 0,
        maxLength,
      });
    }
    case 'object':
      return object(s, root, depth);
  }
  throw new Error(`arbitraries: unsupported schema ${JSON.stringify(s).slice(0, 200)}`);
}

function integer(s: JsonSchema): fc.Arbitrary<number> {
  const min = s.exclusiveMinimum !== undefined ? (s.exclusiveMinimum as number) + 1 : (s.minimum as number);
  const max = (s.maximum as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  const lo = min ?? Number.MIN_SAFE_INTEGER;
  // Small values are the common case; the whole range keeps the bounds honest.
  return fc.oneof(
    fc.integer({ min: Math.max(lo, -1000), max: Math.min(max, 1000) }),
    fc.bigInt({ min: BigInt(lo), max: BigInt(max) }).map(Number),
  );
}

function number(s: JsonSchema): fc.Arbitrary<number> {
  const min = (s.minimum as number | undefined) ?? (s.exclusiveMinimum as number | undefined);
  return fc
    .double({ noNaN: true, noDefaultInfinity: true, min: min ?? -1e12, max: (s.maximum as number) ?? 1e12 })
    .filter((x) => s.exclusiveMinimum === undefined || x > (s.exclusiveMinimum as number))
    .map((x) => (Object.is(x, -0) ? 0 : x)); // JSON has no -0: it reads back as 0.
}

function string(s: JsonSchema): fc.Arbitrary<string> {
  const minLength = (s.minLength as number | undefined) ?? 0;
  const maxLength = (s.maxLength as number | undefined) ?? 4096;
  if (typeof s.pattern === 'string') {
    return fc
      .stringMatching(new RegExp(s.pattern))
      .filter((x) => x.length >= minLength && x.length <= maxLength);
  }
  return fc.string({
    unit: UNIT,
    minLength,
    maxLength: Math.max(minLength, Math.min(16, Math.floor(maxLength / 2))),
  });
}

function object(s: JsonSchema, root: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties as Record<string, unknown> | undefined;
  if (props) {
    const model = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(v, root, depth)]));
    return fc.record(model, { requiredKeys: (s.required ?? []) as string[] }) as fc.Arbitrary<
      Record<string, unknown>
    >;
  }
  const names = s.propertyNames as JsonSchema | undefined;
  const key =
    names?.maxLength !== undefined ? KEY.filter((k) => k.length <= (names.maxLength as number)) : KEY;
  const value = s.additionalProperties ? fromSchema(s.additionalProperties, root, depth) : fc.constant(null);
  return fc.dictionary(key, value, { maxKeys: 4 });
}
