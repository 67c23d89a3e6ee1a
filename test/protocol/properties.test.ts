import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../../scripts/protocol-compat.ts';
import { messageJsonSchema as deriveJsonSchema } from '../../scripts/protocol-schema.ts';
import {
  decode,
  encode,
  formatPath,
  MESSAGE_TYPES,
  type MessageType,
  type RejectReason,
  subjects,
} from '../../src/protocol/index.ts';
import { messageArbitrary } from './support/arbitraries.ts';
import { subjectFor } from './support/subjects.ts';

const REASONS: RejectReason[] = [
  'invalid_json',
  'payload_too_large',
  'not_plain_data',
  'unknown_type',
  'invalid_fields',
  'wrong_subject',
  'unknown_subject',
  'unsupported_version',
];
// Reasons about a message's contents always name where.
const NEEDS_PATH: RejectReason[] = ['invalid_fields', 'unknown_type', 'wrong_subject', 'unsupported_version'];

const s = subjects('demo');
const SUBJECTS = [
  s.hello('w1'),
  s.events('w1'),
  s.broadcast,
  s.workerCmd('w1'),
  s.dispatch,
  s.status,
  s.inspect('supervisor'),
  '_INBOX.abc',
  'openrtc.demo.nope',
  'elsewhere',
];

/** Any message type's arbitrary, with its type. */
const anyMessage = fc
  .constantFrom(...MESSAGE_TYPES)
  .chain((type) => messageArbitrary(type).map((message) => ({ type, message })));

/** Decodes and checks the result has the shape decode promises; returns it. */
function decodeChecked(data: Uint8Array | string, subject: string) {
  let result: ReturnType<typeof decode> | undefined;
  expect(() => {
    result = decode(data, subject);
  }).not.toThrow();
  if (!result) throw new Error('unreachable');
  if (!result.ok) {
    const { error } = result;
    expect(REASONS).toContain(error.reason);
    expect(error.context.subject).toBe(subject);
    expect(error.message).toContain(subject);
    if (NEEDS_PATH.includes(error.reason)) expect(error.context.path).toMatch(/.+/);
  }
  return result;
}

/** True when `a` is `b` or an ancestor of it (`transport` of `transport.kind`, `x` of `x[0]`). */
function isAncestorOrSelf(a: string, b: string): boolean {
  return a === b || a === '(root)' || b.startsWith(`${a}.`) || b.startsWith(`${a}[`);
}

describe('valid messages round-trip', () => {
  for (const type of MESSAGE_TYPES) {
    it(`${type}: encode then decode gives back the same message`, () => {
      fc.assert(
        fc.property(messageArbitrary(type), (message) => {
          const result = decode(encode(message), subjectFor(type));
          expect(result).toEqual({ ok: true, message });
        }),
        { numRuns: 60 },
      );
    });
  }

  it('session.start round-trips with both transports', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(messageArbitrary('session.start'), (message) => {
        seen.add(message.transport.kind);
        expect(decode(encode(message), subjectFor('session.start'))).toEqual({ ok: true, message });
      }),
      { numRuns: 200 },
    );
    expect([...seen].sort()).toEqual(['livekit', 'local']);
  });
});

describe('decode never throws', () => {
  it('on random bytes, on any subject', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(...SUBJECTS), (bytes, subject) => {
        decodeChecked(bytes, subject);
      }),
      { numRuns: 500 },
    );
  });

  it('on random JSON, on any subject', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), fc.constantFrom(...SUBJECTS), (text, subject) => {
        decodeChecked(text, subject);
      }),
      { numRuns: 500 },
    );
  });

  it('on random objects that claim a real message type', () => {
    const claims = fc.record({
      type: fc.constantFrom(...MESSAGE_TYPES),
      v: fc.oneof(fc.integer({ min: -2, max: 4 }), fc.string()),
      body: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 })),
    });
    fc.assert(
      fc.property(claims, ({ type, v, body }) => {
        const result = decodeChecked(JSON.stringify({ ...body, type, v }), subjectFor(type));
        if (!result.ok) expect(result.error.context.messageType).toBe(type);
      }),
      { numRuns: 500 },
    );
  });
});

// ── mutations of valid messages ─────────────────────────────────────────────────────────────

type Path = (string | number)[];

/** Every location inside a value, the value itself excluded. */
function locations(value: unknown, prefix: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...locations(v, [...prefix, k])]);
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  return path
    .slice(0, -1)
    .reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], root) as Record<
    string | number,
    unknown
  >;
}

/** A valid message and one location in it, picked at random. */
const messageAndLocation = anyMessage.chain(({ type, message }) => {
  const locs = locations(message);
  return fc.constantFrom(...locs).map((path) => ({ type, message: structuredClone(message), path }));
});

/** A value of a different JSON type than `v`. */
function otherTypeValue(v: unknown): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [];
  if (typeof v !== 'string') options.push(fc.string({ maxLength: 5 }));
  if (typeof v !== 'number') options.push(fc.integer());
  if (typeof v !== 'boolean') options.push(fc.boolean());
  if (v !== null) options.push(fc.constant(null));
  if (!Array.isArray(v)) options.push(fc.array(fc.integer(), { maxLength: 2 }));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) options.push(fc.constant({}));
  return fc.oneof(...options);
}

/** Whether a schema's `type` (or its union branches' types) admits the JSON type of `value`. */
function admitsJsonType(schema: JsonSchema, value: unknown): boolean {
  const branches = (schema.anyOf ?? schema.oneOf ?? [schema]) as JsonSchema[];
  const kind =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'array'
        : typeof value === 'number' && Number.isInteger(value)
          ? 'integer'
          : typeof value;
  return branches.some((b) => b.type === kind || (kind === 'integer' && b.type === 'number'));
}

/** The JSON Schema of a message type, derived from zod once per type (per run, it was most of the time). */
const schemas = new Map<MessageType, JsonSchema>();
function messageJsonSchema(type: MessageType): JsonSchema {
  let schema = schemas.get(type);
  if (!schema) {
    schema = deriveJsonSchema(type);
    schemas.set(type, schema);
  }
  return schema;
}

const MARKER = 'deep-nesting-goes-here-7f3a9c';

describe('mutated valid messages are accepted or rejected at the mutated place, never thrown', () => {
  it('dropping a field: a required one is rejected at that field or the union holding it', () => {
    fc.assert(
      fc.property(messageAndLocation, ({ type, message, path }) => {
        const parent = parentOf(message, path);
        const key = path[path.length - 1] as string | number;
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key];
        const result = decodeChecked(JSON.stringify(message), subjectFor(type));
        const where = formatPath(path);
        if (!result.ok) expect(isAncestorOrSelf(result.error.context.path ?? '', where)).toBe(true);
        const topLevelRequired = (messageJsonSchema(type).required as string[]).includes(String(key));
        if (path.length === 1 && topLevelRequired) {
          expect(result.ok).toBe(false);
          if (!result.ok) expect(result.error.context.path).toBe(where);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('changing a JSON type is accepted only where the schema allows it, else rejected there', () => {
    const arb = messageAndLocation.chain((x) =>
      otherTypeValue(parentOf(x.message, x.path)[x.path[x.path.length - 1] as string]).map((value) => ({
        ...x,
        value,
      })),
    );
    fc.assert(
      fc.property(arb, ({ type, message, path, value }) => {
        parentOf(message, path)[path[path.length - 1] as string] = value;
        const result = decodeChecked(JSON.stringify(message), subjectFor(type));
        if (!result.ok)
          expect(isAncestorOrSelf(result.error.context.path ?? '', formatPath(path))).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('a top-level field given a JSON type its schema does not admit is rejected at that field', () => {
    const arb = anyMessage.chain(({ type, message }) =>
      fc.constantFrom(...Object.keys(message)).chain((key) =>
        otherTypeValue((message as Record<string, unknown>)[key]).map((value) => ({
          type,
          message,
          key,
          value,
        })),
      ),
    );
    fc.assert(
      fc.property(arb, ({ type, message, key, value }) => {
        const result = decodeChecked(JSON.stringify({ ...message, [key]: value }), subjectFor(type));
        const field = (messageJsonSchema(type).properties as Record<string, JsonSchema>)[key] as JsonSchema;
        if (admitsJsonType(field, value)) return; // e.g. null for a nullable field
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.context.path).toBe(key);
      }),
      { numRuns: 800 },
    );
  });

  it('a value outside an enum is rejected at the enum', () => {
    const cases: [MessageType, string][] = [
      ['session.state', 'state'],
      ['heartbeat', 'state'],
      ['worker.state', 'state'],
      ['session.ended', 'outcome'],
      ['status.ok', 'health'],
      ['session.speech', 'kind'],
    ];
    const arb = fc.constantFrom(...cases).chain(([type, field]) =>
      fc.tuple(
        messageArbitrary(type),
        fc.string({ maxLength: 12 }).filter((x) => {
          const values = (messageJsonSchema(type).properties as Record<string, { enum?: string[] }>)[field]
            ?.enum;
          return !values?.includes(x);
        }),
        fc.constant(type),
        fc.constant(field),
      ),
    );
    fc.assert(
      fc.property(arb, ([message, bogus, type, field]) => {
        const result = decodeChecked(JSON.stringify({ ...message, [field]: bogus }), subjectFor(type));
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error.reason).toBe('invalid_fields');
          expect(result.error.context.path).toBe(field);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('deep nesting anywhere is accepted, or rejected at or around the place it was put', () => {
    const arb = messageAndLocation.chain((x) =>
      fc
        .tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean())
        .map(([depth, asObject]) => ({ ...x, depth, asObject })),
    );
    fc.assert(
      fc.property(arb, ({ type, message, path, depth, asObject }) => {
        // Built as text: JSON.stringify itself recurses and would overflow first.
        const parent = parentOf(message, path);
        const key = path[path.length - 1] as string;
        const inner = JSON.stringify(parent[key]);
        parent[key] = MARKER;
        const [open, close] = asObject ? ['{"n":', '}'] : ['[', ']'];
        // A function, not a replacement string: a generated `$'` or `$&` in the value would expand.
        const text = JSON.stringify(message).replace(
          JSON.stringify(MARKER),
          () => `${open.repeat(depth)}${inner}${close.repeat(depth)}`,
        );
        const result = decodeChecked(text, subjectFor(type));
        if (!result.ok) {
          const at = result.error.context.path ?? '';
          const where = formatPath(path);
          expect(isAncestorOrSelf(at, where) || isAncestorOrSelf(where, at)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
