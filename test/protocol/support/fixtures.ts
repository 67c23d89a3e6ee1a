import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/protocol/v1/', import.meta.url));

/**
 * One fixture file, `valid/<type>.<name>.json` or `invalid/<type>.<name>.json` (names have no dots):
 *   { "subject": "...", "about": "...", "message": {...} }                      valid
 *   { "subject": "...", "about": "...", "stripped": ["a", "b"], "message": {} }  valid, unknown fields
 *   { "subject": "...", "about": "...", "expectPath": "sessions[1].seq", "message": {...} }  invalid
 */
export interface Fixture {
  kind: 'valid' | 'invalid';
  /** The message type, from the file name. */
  type: string;
  name: string;
  file: string;
  subject: string;
  about: string;
  message: Record<string, unknown>;
  /** Invalid fixtures: where decode must reject it. */
  expectPath?: string;
  /** Valid fixtures: top-level fields a reader of this version does not know and drops. */
  stripped?: string[];
}

/** Every fixture of one kind, sorted by file name. */
export function loadFixtures(kind: Fixture['kind']): Fixture[] {
  const dir = join(FIXTURE_DIR, kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const stem = file.slice(0, -'.json'.length);
      const dot = stem.lastIndexOf('.');
      const body = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Omit<
        Fixture,
        'kind' | 'type' | 'name' | 'file'
      >;
      return { kind, type: stem.slice(0, dot), name: stem.slice(dot + 1), file: `${kind}/${file}`, ...body };
    });
}
