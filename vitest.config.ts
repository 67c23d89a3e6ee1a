import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `unit`: pure and in-process tests: no nats-server, no child process, no browser. They run in
 * parallel. `integration`: every other test file.
 */
const UNIT_DIRS = ['test/actors/', 'test/protocol/', 'test/bench/'];
const UNIT_FILES = new Set([
  'test/inspect/history.test.ts',
  'test/inspect/view.test.ts',
  'test/livekit/cli-options.test.ts',
  'test/livekit/decisions.test.ts',
  'test/livekit/room-session.test.ts',
  'test/runtime/config.test.ts',
  'test/runtime/log-limiter.test.ts',
  'test/runtime/agents/define.test.ts',
  'test/runtime/agents/load.test.ts',
  'test/runtime/voice/wav.test.ts',
  'test/security/auth-options.test.ts',
  'test/security/nats-config.test.ts',
]);
/** In a unit folder, but starts a process (the `openrtc machines` command). */
const SPAWNS = new Set(['test/actors/diagrams.test.ts']);

const files = readdirSync('test', { recursive: true, encoding: 'utf8' })
  .map((f) => `test/${f.replaceAll('\\', '/')}`)
  .filter((f) => f.endsWith('.test.ts'));
const isUnit = (f: string) => !SPAWNS.has(f) && (UNIT_FILES.has(f) || UNIT_DIRS.some((d) => f.startsWith(d)));

export default defineConfig({
  // Agent modules import `openrtc` as a user's do; in tests that is src/, as package.json's
  // `openrtc-source` export condition says (openrtc → src/index.ts, openrtc/x → src/x/index.ts).
  resolve: {
    alias: [
      {
        find: /^openrtc(\/(?:protocol|actors|testing))?$/,
        replacement: `${fileURLToPath(new URL('src', import.meta.url))}$1/index.ts`,
      },
    ],
  },
  test: {
    pool: 'forks',
    setupFiles: ['test/support/setup.ts'],
    // Wall-clock bounds catch hangs, not slowness: generous, because CI shares two busy cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Name a test under its file only when it is really slow: a green run stays short.
    slowTestThreshold: 10_000,
    // console output of a passing test is dropped; a failing test's is printed.
    silent: 'passed-only',
    env: {
      // agents-js warns "slower than realtime" whenever a test feeds audio faster than real time.
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'error',
      // Every `openrtc` process a test starts runs the sources under test, never a stale dist/.
      OPENRTC_RUN_FROM: 'src',
    },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: files.filter(isUnit), sequence: { groupOrder: 0 }, maxWorkers: 2 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: files.filter((f) => !isUnit(f)),
          sequence: { groupOrder: 1 },
          // One heavy file at a time: each starts a nats-server, worker processes and real Silero
          // sessions, and two of them on two shared cores starve each other's heartbeats.
          maxWorkers: 1,
        },
      },
    ],
  },
});
