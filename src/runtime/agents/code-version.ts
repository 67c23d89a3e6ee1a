import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/**
 * The code version of a set of agent modules: a stable hash (16 hex digits of SHA-256) of each
 * file's path and content, in path order. Workers report it in hello and heartbeats; workers with
 * different versions are different generations (docs/operations.md). Only the agent files
 * themselves count, not what they import. A file that cannot be read counts as its error.
 */
export async function codeVersion(modules: readonly string[]): Promise<string> {
  const paths = [...new Set(modules.map((m) => (isAbsolute(m) ? m : resolve(m))))].sort();
  const hash = createHash('sha256');
  for (const path of paths) {
    const content = await readFile(path).catch((err: Error) => Buffer.from(`unreadable: ${err.message}`));
    hash.update(path).update('\0').update(content).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}
