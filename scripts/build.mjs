#!/usr/bin/env node
// `npm run build` (and `npm pack`, through prepack): compiles src/ to dist/ with tsc
// (tsconfig.build.json: declarations, source maps with the sources inlined), copies the files tsc
// does not emit (the web inspector's page), then writes dist/.build-stamp. bin/openrtc.js runs
// dist/ in a git clone only while that stamp is newer than every file under src/.
// `--out DIR` builds into DIR instead (the startup benchmark stages a package that way).
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 ? resolve(process.argv[outAt + 1] ?? '') : join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error('[build] tsc failed; dist/ is incomplete and has no build stamp.');
  process.exit(r.status ?? 1);
}
let copied = 0;
for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
  const ext = extname(file);
  if (ext === '' || ext === '.ts') continue;
  cpSync(join(src, file), join(dist, file));
  copied++;
}
writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
console.error(`[build] ${relative(root, dist)}/ built (${copied} asset file(s) copied)`);
