import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  canonicalJson,
  checkSchemaDir,
  main,
  SCHEMA_DIR,
  schemaFiles,
  writeSchemaDir,
} from '../../scripts/protocol-schema.ts';
import { ALLOWED_TYPES, DIRECTION_OF, DIRECTIONS, MESSAGE_TYPES } from '../../src/protocol/index.ts';

describe('docs/protocol/schema', () => {
  it('is up to date with the zod catalogue (run `npm run protocol:schema` if not)', () => {
    expect(checkSchemaDir(SCHEMA_DIR)).toEqual({ stale: [], missing: [], extra: [] });
  });

  it('has one file per message type and one per direction', () => {
    const files = [...schemaFiles().keys()];
    expect(files.filter((f) => !f.startsWith('directions/')).sort()).toEqual(
      MESSAGE_TYPES.map((t) => `${t}.json`).sort(),
    );
    expect(files.filter((f) => f.startsWith('directions/')).sort()).toEqual(
      Object.keys(DIRECTIONS)
        .map((d) => `directions/${d}.json`)
        .sort(),
    );
  });

  it('each direction file is a union of exactly that direction’s types', () => {
    for (const [direction, union] of Object.entries(DIRECTIONS)) {
      const schema = JSON.parse(schemaFiles().get(`directions/${direction}.json`) as string);
      const types = (schema.oneOf as { properties: { type: { const: string } } }[]).map(
        (b) => b.properties.type.const,
      );
      expect(types).toEqual(union.options.map((o) => o.shape.type.value));
    }
  });

  it('is generated deterministically, with a trailing newline', () => {
    const a = schemaFiles();
    const b = schemaFiles();
    expect([...a.entries()]).toEqual([...b.entries()]);
    for (const [file, text] of a) {
      expect(text.endsWith('}\n'), file).toBe(true);
      expect(JSON.parse(text).$schema, file).toBe('https://json-schema.org/draft/2020-12/schema');
    }
  });
});

describe('canonicalJson', () => {
  it('orders keywords the same way whatever order they were built in', () => {
    const one = canonicalJson({
      type: 'object',
      required: ['b'],
      $schema: 'x',
      properties: { b: {}, a: {} },
    });
    const two = canonicalJson({
      properties: { b: {}, a: {} },
      $schema: 'x',
      required: ['b'],
      type: 'object',
    });
    expect(one).toBe(two);
    expect(Object.keys(JSON.parse(one))).toEqual(['$schema', 'type', 'properties', 'required']);
  });

  it('keeps fields in declaration order and arrays as they are', () => {
    const text = canonicalJson({
      properties: { zeta: { type: 'string' }, alpha: {} },
      required: ['zeta', 'alpha'],
    });
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed.properties)).toEqual(['zeta', 'alpha']);
    expect(parsed.required).toEqual(['zeta', 'alpha']);
  });
});

describe('checkSchemaDir and writeSchemaDir', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('report stale, missing and extra files, and writing fixes all three', () => {
    dir = mkdtempSync(join(tmpdir(), 'openrtc-schema-'));
    expect(checkSchemaDir(dir).missing.length).toBe(schemaFiles().size);
    writeSchemaDir(dir);
    expect(checkSchemaDir(dir)).toEqual({ stale: [], missing: [], extra: [] });

    writeFileSync(
      join(dir, 'hello.json'),
      readFileSync(join(dir, 'hello.json'), 'utf8').replace('"hello"', '"hi"'),
    );
    rmSync(join(dir, 'directions', 'reply.json'));
    writeFileSync(join(dir, 'retired.json'), '{}\n');
    expect(checkSchemaDir(dir)).toEqual({
      stale: ['hello.json'],
      missing: ['directions/reply.json'],
      extra: ['retired.json'],
    });

    writeSchemaDir(dir);
    expect(checkSchemaDir(dir)).toEqual({ stale: [], missing: [], extra: [] });
  });
});

describe('npm run protocol:schema -- --check', () => {
  it('exits 0 when the folder is up to date', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(main(['--check'])).toBe(0);
      expect(log).toHaveBeenCalledWith(expect.stringMatching(/is up to date \(\d+ files\)/));
    } finally {
      log.mockRestore();
    }
  });
});

describe('docs/protocol/README.md stays true to the code', () => {
  const readme = readFileSync(new URL('../../docs/protocol/README.md', import.meta.url), 'utf8');
  // Table rows as trimmed cells (Biome pads the tables).
  const rows = readme
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) => l.split('|').map((c) => c.trim()));

  it('has a row in the message table for every message type, with its direction', () => {
    for (const type of MESSAGE_TYPES) {
      const row = rows.find((r) => r[1] === `\`${type}\`` && r.length >= 7);
      expect(row, `no row for ${type}`).toBeDefined();
      expect(row?.[2]).toBe(DIRECTION_OF[type]);
    }
  });

  it('lists, for every kind of subject, exactly the types decode accepts on it', () => {
    for (const [kind, types] of Object.entries(ALLOWED_TYPES)) {
      const row = rows.find((r) => r[2] === `\`${kind}\``);
      expect(row, `no subject row for ${kind}`).toBeDefined();
      // The accepted types, before any '(→ replies)' note.
      const accepted = (row?.[5] ?? '')
        .split('(')[0]
        ?.match(/`[a-z.]+`/g)
        ?.map((t) => t.slice(1, -1));
      expect(new Set(accepted)).toEqual(new Set(types));
    }
  });
});
