/**
 * Writes docs/machines/: each machine as mermaid (<name>.mmd) and JSON (<name>.json), and a
 * README explaining every state. `--check` writes nothing and exits 1 when a file is stale;
 * `--dir DIR` uses DIR instead of docs/machines.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineExports } from '../src/actors/exports.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const dirFlag = args.indexOf('--dir');
// --dir lets a test export somewhere else than the checked-in copy.
const dir =
  dirFlag >= 0 && args[dirFlag + 1] ? resolve(args[dirFlag + 1] as string) : join(root, 'docs', 'machines');

const stale: string[] = [];
for (const [file, text] of Object.entries(machineExports())) {
  const path = join(dir, file);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (current === text) continue;
  stale.push(relative(root, path));
  if (!check) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
if (check && stale.length > 0) {
  console.error(`stale machine diagrams (run npm run machines):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
console.log(
  check ? 'machine diagrams are up to date' : `wrote ${stale.length} file(s) in ${relative(root, dir)}`,
);
