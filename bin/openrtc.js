#!/usr/bin/env node
// The `openrtc` command.
// - An installed package has no src/: it runs its build, dist/, with plain Node.
// - A git clone runs dist/ while `npm run build` is newer than every file under src/ (and the
//   tsconfig files); otherwise it runs the TypeScript sources through tsx, so a stale build never runs.
// - OPENRTC_RUN_FROM=dist or =src forces one. Worker processes are started in the mode of the
//   process that starts them (src/runtime/spawner.ts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';

// A worker's start is mostly compiling @livekit/agents and its dependencies (docs/package.md,
// Startup). Node 22.1 and later can keep that compiled code on disk for the next process; Node 20
// has no such cache, and this does nothing there.
module.enableCompileCache?.();

const root = new URL('..', import.meta.url);
const at = (path) => new URL(path, root);

/** The newest modification time of a folder, its subfolders and their files. */
function newest(dir) {
  let max = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

/** Commands that load @livekit/agents (src/cli/main.ts). */
const AGENTS_JS_COMMANDS = new Set(['worker', 'dev', 'start', 'supervisor']);

function runFrom() {
  const forced = process.env.OPENRTC_RUN_FROM;
  if (forced === 'dist' || forced === 'src') return forced;
  if (!existsSync(at('src/cli/main.ts'))) return 'dist';
  if (!existsSync(at('dist/.build-stamp'))) return 'src';
  const built = statSync(at('dist/.build-stamp')).mtimeMs;
  const configs = ['tsconfig.json', 'tsconfig.build.json'].filter((f) => existsSync(at(f)));
  const changed = Math.max(newest(at('src/')), ...configs.map((f) => statSync(at(f)).mtimeMs));
  return changed > built ? 'src' : 'dist';
}

if (runFrom() === 'dist') {
  if (!existsSync(at('dist/cli/main.js'))) {
    process.stderr.write('openrtc: dist/ is not built: run `npm run build` (or unset OPENRTC_RUN_FROM)\n');
    process.exit(2);
  }
  await import('../dist/cli/main.js');
} else {
  // Once tsx is registered, every ES module import goes through its hooks thread, @livekit/agents'
  // hundreds of plain JavaScript modules too. The commands that load agents-js (a worker's session
  // runtime, a pool's agent modules) import it first, without the hooks: later imports of it
  // resolve to this same instance.
  const [command, ...rest] = process.argv.slice(2);
  const help = rest.includes('--help') || rest.includes('-h');
  if (AGENTS_JS_COMMANDS.has(command ?? '') && !help) await import('@livekit/agents');
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
