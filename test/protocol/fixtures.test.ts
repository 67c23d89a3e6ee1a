import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { SCHEMA_DIR } from '../../scripts/protocol-schema.ts';
import { DIRECTION_OF, decode, MESSAGE_TYPES, type MessageType } from '../../src/protocol/index.ts';
import { ajvPaths, compile, makeAjv } from './support/ajv.ts';
import { type Fixture, loadFixtures } from './support/fixtures.ts';

const valid = loadFixtures('valid');
const invalid = loadFixtures('invalid');

// The checked-in JSON Schema files (schema-files.test.ts proves they match the zod catalogue).
const ajv = makeAjv();
const validators = new Map<string, ValidateFunction>();
function validatorFor(file: string): ValidateFunction {
  let v = validators.get(file);
  if (!v) {
    v = compile(ajv, JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')));
    validators.set(file, v);
  }
  return v;
}

function without(message: Record<string, unknown>, fields: string[] = []): Record<string, unknown> {
  return Object.fromEntries(Object.entries(message).filter(([k]) => !fields.includes(k)));
}

describe('fixture coverage', () => {
  for (const type of MESSAGE_TYPES) {
    it(`${type} has at least one valid and two invalid fixtures`, () => {
      expect(valid.filter((f) => f.type === type).length).toBeGreaterThanOrEqual(1);
      expect(invalid.filter((f) => f.type === type).length).toBeGreaterThanOrEqual(2);
    });
  }

  it('every fixture is named <type>.<name>.json for a known type and holds that type', () => {
    for (const f of [...valid, ...invalid]) {
      expect(MESSAGE_TYPES, f.file).toContain(f.type);
      expect(f.name, f.file).toMatch(/^[a-z0-9-]+$/);
      expect(f.message.type, f.file).toBe(f.type);
      expect(f.subject, f.file).toMatch(/^(openrtc\.|_INBOX\.)/);
      expect(f.about, f.file).toMatch(/\w/);
    }
  });

  it('every invalid fixture records where it must be rejected', () => {
    for (const f of invalid) expect(f.expectPath, f.file).toMatch(/^[A-Za-z_(]/);
  });
});

describe.each(valid.map((f): [string, Fixture] => [f.file, f]))('valid fixture %s', (_file, f) => {
  it('decodes to the message, minus fields this version does not know', () => {
    const result = decode(JSON.stringify(f.message), f.subject);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.message).toEqual(without(f.message, f.stripped));
    if (f.stripped) for (const k of f.stripped) expect(f.message).toHaveProperty([k]);
  });

  it('is valid for ajv against its type schema and its direction union', () => {
    for (const file of [`${f.type}.json`, `directions/${DIRECTION_OF[f.type as MessageType]}.json`]) {
      const validate = validatorFor(file);
      expect(validate(f.message), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});

describe.each(invalid.map((f): [string, Fixture] => [f.file, f]))('invalid fixture %s', (_file, f) => {
  it('is rejected by decode at the recorded path', () => {
    const result = decode(JSON.stringify(f.message), f.subject);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.reason).toBe('invalid_fields');
    expect(result.error.context).toEqual({ subject: f.subject, messageType: f.type, path: f.expectPath });
  });

  it('is rejected by ajv too, with an error at the recorded path', () => {
    const validate = validatorFor(`${f.type}.json`);
    expect(validate(f.message)).toBe(false);
    expect(ajvPaths(validate.errors)).toContain(f.expectPath);
    expect(validatorFor(`directions/${DIRECTION_OF[f.type as MessageType]}.json`)(f.message)).toBe(false);
  });
});
