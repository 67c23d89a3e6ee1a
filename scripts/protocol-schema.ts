/**
 * JSON Schema for the protocol, generated from the zod catalogue in src/protocol.
 *
 *   npm run protocol:schema               writes docs/protocol/schema/ (one file per message type,
 *                                         one per direction under directions/)
 *   npm run protocol:schema -- --check    exits 1 listing stale, missing and extra files; 0 when current
 *   npm run protocol:schema -- --release  freezes docs/protocol/released/v<PROTOCOL_VERSION>.json
 *
 * Output is deterministic: keywords in a fixed order, fields in declaration order, two-space
 * indent, trailing newline.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  DIRECTIONS,
  type Direction,
  MESSAGE_SCHEMAS,
  MESSAGE_TYPES,
  type MessageType,
  PROTOCOL_VERSION,
} from '../src/protocol/index.ts';
import type { JsonSchema } from './protocol-compat.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_DIR = join(ROOT, 'docs', 'protocol', 'schema');
export const RELEASED_DIR = join(ROOT, 'docs', 'protocol', 'released');

/** A frozen snapshot of every message type's schema at a released protocol version. */
export interface ReleasedSnapshot {
  version: number;
  types: Record<string, JsonSchema>;
}

/** The JSON Schema (input side: what a reader accepts) of one message type. */
export function messageJsonSchema(type: MessageType): JsonSchema {
  return { title: type, ...z.toJSONSchema(MESSAGE_SCHEMAS[type], { io: 'input' }) } as JsonSchema;
}

/** The JSON Schema of every message type, by type, in catalogue order. */
export function currentSchemas(): Record<string, JsonSchema> {
  return Object.fromEntries(MESSAGE_TYPES.map((type) => [type, messageJsonSchema(type)]));
}

/** Every generated file: path relative to the schema folder → exact contents. */
export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const type of MESSAGE_TYPES) files.set(`${type}.json`, canonicalJson(messageJsonSchema(type)));
  for (const [direction, union] of Object.entries(DIRECTIONS) as [Direction, z.ZodType][]) {
    const schema = { title: direction, ...z.toJSONSchema(union, { io: 'input' }) };
    files.set(`directions/${direction}.json`, canonicalJson(schema));
  }
  return files;
}

export interface SchemaCheck {
  stale: string[];
  missing: string[];
  extra: string[];
}

/** Compares a schema folder with what the catalogue generates now. */
export function checkSchemaDir(dir = SCHEMA_DIR): SchemaCheck {
  const want = schemaFiles();
  const have = new Set(listJson(dir));
  const result: SchemaCheck = { stale: [], missing: [], extra: [] };
  for (const [file, contents] of want) {
    if (!have.has(file)) result.missing.push(file);
    else if (readFileSync(join(dir, file), 'utf8') !== contents) result.stale.push(file);
  }
  for (const file of have) if (!want.has(file)) result.extra.push(file);
  return result;
}

/** Writes the generated files and removes JSON files the catalogue no longer produces. */
export function writeSchemaDir(dir = SCHEMA_DIR): SchemaCheck {
  const before = checkSchemaDir(dir);
  for (const file of before.extra) rmSync(join(dir, file));
  for (const [file, contents] of schemaFiles()) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), contents);
  }
  return before;
}

/** The snapshot of the highest released version in `dir`, or null when none is released. */
export function latestReleased(dir = RELEASED_DIR): ReleasedSnapshot | null {
  const versions = listJson(dir)
    .map((file) => /^v(\d+)\.json$/.exec(file)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  if (versions.length === 0) return null;
  return JSON.parse(readFileSync(join(dir, `v${versions[0]}.json`), 'utf8')) as ReleasedSnapshot;
}

/** The snapshot file contents for the current build. */
export function releaseSnapshot(): string {
  const types = currentSchemas();
  const sorted = Object.fromEntries(
    Object.keys(types)
      .sort()
      .map((t) => [t, types[t]]),
  );
  return canonicalJson({ version: PROTOCOL_VERSION, types: sorted });
}

// Keywords readers look for first; the rest follow alphabetically.
const LEADING = ['$schema', '$id', 'title', 'description', 'version', 'type', 'const', 'enum'];
// Objects whose keys are names (fields, definitions, types), not keywords: keep their order.
const NAME_MAPS = new Set(['properties', '$defs', 'definitions', 'patternProperties', 'types']);

/** JSON with a deterministic key order, two-space indent and a trailing newline. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(order(value, false), null, 2)}\n`;
}

function order(value: unknown, keepOrder: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => order(v, false));
  if (typeof value !== 'object' || value === null) return value;
  const keys = Object.keys(value);
  if (!keepOrder) {
    keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }
  return Object.fromEntries(
    keys.map((k) => [k, order((value as Record<string, unknown>)[k], !keepOrder && NAME_MAPS.has(k))]),
  );
}

function rank(key: string): number {
  const i = LEADING.indexOf(key);
  return i === -1 ? LEADING.length : i;
}

function listJson(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.split('\\').join('/'))
    .sort();
}

/** The command line: returns the exit code. */
export function main(argv: string[]): number {
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  if (argv.includes('--check')) {
    const { stale, missing, extra } = checkSchemaDir();
    const problems = [
      ...stale.map((f) => `stale:   ${f}`),
      ...missing.map((f) => `missing: ${f}`),
      ...extra.map((f) => `extra:   ${f}`),
    ];
    if (problems.length === 0) {
      console.log(`${rel(SCHEMA_DIR)} is up to date (${schemaFiles().size} files)`);
      return 0;
    }
    console.error(`${rel(SCHEMA_DIR)} is out of date; run \`npm run protocol:schema\`:`);
    for (const p of problems) console.error(`  ${p}`);
    return 1;
  }
  if (argv.includes('--release')) {
    const file = join(RELEASED_DIR, `v${PROTOCOL_VERSION}.json`);
    if (existsSync(file) && !argv.includes('--force')) {
      console.error(`${rel(file)} exists: a released version is frozen (--force replaces it)`);
      return 1;
    }
    mkdirSync(RELEASED_DIR, { recursive: true });
    writeFileSync(file, releaseSnapshot());
    console.log(`wrote ${rel(file)}`);
    return 0;
  }
  const { stale, missing, extra } = writeSchemaDir();
  console.log(
    `wrote ${schemaFiles().size} files to ${rel(SCHEMA_DIR)} (${stale.length} changed, ${missing.length} new, ${extra.length} removed)`,
  );
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
