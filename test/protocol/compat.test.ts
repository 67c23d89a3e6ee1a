import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  compatibilityProblems,
  findBreakingChanges,
  type JsonSchema,
} from '../../scripts/protocol-compat.ts';
import { currentSchemas, latestReleased } from '../../scripts/protocol-schema.ts';
import { MESSAGE_SCHEMAS, PROTOCOL_VERSION, SUPPORTED_VERSIONS } from '../../src/protocol/index.ts';

const obj = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  required,
});
const str: JsonSchema = { type: 'string' };
const int: JsonSchema = { type: 'integer' };

describe('findBreakingChanges', () => {
  const released = { ping: obj({ id: str, seq: int, note: str }, ['id', 'seq']) };

  it('finds nothing when nothing changed', () => {
    expect(findBreakingChanges(released, structuredClone(released))).toEqual([]);
  });

  it('catches a removed message type', () => {
    expect(findBreakingChanges(released, {})).toEqual([
      { kind: 'removed_type', type: 'ping', path: '', detail: "message type 'ping' was removed" },
    ]);
  });

  it('catches a removed field, required or optional', () => {
    const current = { ping: obj({ id: str, seq: int }, ['id', 'seq']) };
    expect(findBreakingChanges(released, current)).toMatchObject([
      { kind: 'removed_field', type: 'ping', path: 'note' },
    ]);
  });

  it('catches a new required field', () => {
    const current = { ping: obj({ id: str, seq: int, note: str, zone: str }, ['id', 'seq', 'zone']) };
    expect(findBreakingChanges(released, current)).toMatchObject([
      { kind: 'new_required_field', path: 'zone', detail: 'field zone is required and is new' },
    ]);
  });

  it('catches an optional field made required', () => {
    const current = { ping: obj({ id: str, seq: int, note: str }, ['id', 'seq', 'note']) };
    expect(findBreakingChanges(released, current)).toMatchObject([
      { kind: 'new_required_field', path: 'note', detail: 'field note is required and was optional' },
    ]);
  });

  it('allows a new type, a new optional field and a required field made optional', () => {
    const current = {
      ping: obj({ id: str, seq: int, note: str, zone: str }, ['id']),
      pong: obj({ id: str }, ['id']),
    };
    expect(findBreakingChanges(released, current)).toEqual([]);
  });

  it('catches a changed JSON type but allows integer widened to number', () => {
    const narrowed = { ping: obj({ id: int, seq: int, note: str }, ['id', 'seq']) };
    expect(findBreakingChanges(released, narrowed)).toMatchObject([{ kind: 'changed_type', path: 'id' }]);
    const widened = { ping: obj({ id: str, seq: { type: 'number' }, note: str }, ['id', 'seq']) };
    expect(findBreakingChanges(released, widened)).toEqual([]);
  });

  it('catches a removed enum value but allows an added one', () => {
    const before = { s: obj({ state: { type: 'string', enum: ['a', 'b'] } }, ['state']) };
    const fewer = { s: obj({ state: { type: 'string', enum: ['a'] } }, ['state']) };
    const more = { s: obj({ state: { type: 'string', enum: ['a', 'b', 'c'] } }, ['state']) };
    expect(findBreakingChanges(before, fewer)).toMatchObject([
      { kind: 'removed_enum_value', path: 'state', detail: 'state no longer accepts "b"' },
    ]);
    expect(findBreakingChanges(before, more)).toEqual([]);
  });

  it('looks inside nested objects, array items and record values', () => {
    const nested = (leaf: JsonSchema, required: string[]) => ({
      hb: obj(
        {
          sessions: { type: 'array', items: obj({ seq: int, jobId: str }, required) },
          counts: { type: 'object', additionalProperties: obj({ n: int }, ['n']) },
          prewarm: obj({ status: leaf }, ['status']),
        },
        ['sessions'],
      ),
    });
    const before = nested(str, ['seq']);
    const after = nested(int, ['seq', 'jobId']);
    expect(findBreakingChanges(before, after).map((b) => [b.kind, b.path])).toEqual([
      ['new_required_field', 'sessions[].jobId'],
      ['changed_type', 'prewarm.status'],
    ]);
  });

  it('matches union branches by content: a removed alternative is caught, a reorder is not', () => {
    const branch = (kind: string, extra: Record<string, JsonSchema> = {}) =>
      obj({ kind: { type: 'string', const: kind }, ...extra }, ['kind']);
    const before = {
      start: obj({ transport: { oneOf: [branch('local'), branch('livekit', { url: str })] } }),
    };
    const reordered = {
      start: obj({ transport: { oneOf: [branch('livekit', { url: str }), branch('local')] } }),
    };
    expect(findBreakingChanges(before, reordered)).toEqual([]);
    const dropped = { start: obj({ transport: { oneOf: [branch('local')] } }) };
    expect(findBreakingChanges(before, dropped).length).toBeGreaterThan(0);
  });

  it('terminates on recursive definitions', () => {
    const json = (types: string[]): JsonSchema => ({
      type: 'object',
      properties: { value: { $ref: '#/$defs/j' } },
      $defs: {
        j: {
          anyOf: [...types.map((t) => ({ type: t })), { type: 'array', items: { $ref: '#/$defs/j' } }],
        },
      },
    });
    expect(findBreakingChanges({ m: json(['string', 'number']) }, { m: json(['string', 'number']) })).toEqual(
      [],
    );
    expect(findBreakingChanges({ m: json(['string', 'number']) }, { m: json(['string']) })).toMatchObject([
      { kind: 'changed_type', path: 'value' },
    ]);
  });
});

describe('findBreakingChanges on real zod output', () => {
  const schemaOf = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input' }) as JsonSchema;
  const state = MESSAGE_SCHEMAS['session.state'];
  const released = { 'session.state': schemaOf(state) };

  it('sees a field dropped from a message', () => {
    const current = { 'session.state': schemaOf(state.omit({ failure: true })) };
    expect(findBreakingChanges(released, current)).toMatchObject([
      { kind: 'removed_field', path: 'failure' },
    ]);
  });

  it('sees a required field added, and lets an optional one through', () => {
    const required = { 'session.state': schemaOf(state.extend({ region: z.string() })) };
    expect(findBreakingChanges(released, required)).toMatchObject([
      { kind: 'new_required_field', path: 'region' },
    ]);
    const optional = { 'session.state': schemaOf(state.extend({ region: z.string().optional() })) };
    expect(findBreakingChanges(released, optional)).toEqual([]);
  });

  it('sees a session state removed from the enum', () => {
    const current = { 'session.state': schemaOf(state.extend({ state: z.enum(['active', 'closed']) })) };
    expect(findBreakingChanges(released, current).map((b) => b.kind)).toContain('removed_enum_value');
  });
});

describe('compatibilityProblems', () => {
  const released = { version: 1, types: { ping: obj({ id: str }, ['id']) } };

  it('fails a breaking change at the released version', () => {
    expect(compatibilityProblems(released, {}, { version: 1, supported: { min: 1, max: 1 } })).toEqual([
      "ping: removed_type: message type 'ping' was removed (breaking: bump PROTOCOL_VERSION past 1)",
    ]);
  });

  it('fails a bumped version that still claims to read the released one', () => {
    expect(compatibilityProblems(released, {}, { version: 2, supported: { min: 1, max: 2 } })).toEqual([
      "ping: removed_type: message type 'ping' was removed (breaking: SUPPORTED_VERSIONS.min must exceed 1: this build cannot read it any more)",
    ]);
  });

  it('accepts a breaking change once the version is bumped and the old one dropped', () => {
    expect(compatibilityProblems(released, {}, { version: 2, supported: { min: 2, max: 2 } })).toEqual([]);
  });

  it('accepts additive changes at the same version', () => {
    const current = { ...released.types, pong: obj({ id: str }, ['id']) };
    expect(compatibilityProblems(released, current, { version: 1, supported: { min: 1, max: 1 } })).toEqual(
      [],
    );
  });

  it('refuses a version older than the released one', () => {
    expect(
      compatibilityProblems(released, released.types, { version: 0, supported: { min: 0, max: 0 } }),
    ).toEqual(['PROTOCOL_VERSION 0 is older than the released v1']);
  });
});

describe('the current protocol against the last released snapshot', () => {
  const released = latestReleased();

  it('a released snapshot is checked in', () => {
    expect(released?.version).toBeGreaterThanOrEqual(1);
    expect(Object.keys(released?.types ?? {}).length).toBeGreaterThan(0);
  });

  it('has no breaking change without a version bump (re-freeze with `npm run protocol:schema -- --release`)', () => {
    if (!released) throw new Error('no docs/protocol/released/v*.json');
    const build = { version: PROTOCOL_VERSION, supported: SUPPORTED_VERSIONS };
    expect(compatibilityProblems(released, currentSchemas(), build)).toEqual([]);
  });
});
