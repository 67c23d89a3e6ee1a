import { readdirSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * `unit`: pure and in-process tests: no nats-server, no child process, no browser.
 * `integration`: every other test file.
 * `npm test` runs both at once on two workers (one group), the slowest integration files first and
 * the short unit files last, so that no core idles at the end; `vitest run --project X` runs one.
 */
const UNIT_DIRS = ['test/actors/', 'test/protocol/', 'test/bench/'];
const UNIT_FILES = new Set([
  'test/inspect/history.test.ts',
  'test/inspect/publisher.test.ts',
  'test/inspect/view.test.ts',
  'test/livekit/cli-options.test.ts',
  'test/livekit/decisions.test.ts',
  'test/livekit/room-session.test.ts',
  'test/runtime/config.test.ts',
  'test/runtime/log-limiter.test.ts',
  'test/runtime/agents/define.test.ts',
  'test/runtime/agents/load.test.ts',
  'test/runtime/voice/resolve-definition.test.ts',
  'test/runtime/voice/silero-defaults.test.ts',
  'test/runtime/voice/wav.test.ts',
  'test/security/auth-options.test.ts',
  'test/security/nats-config.test.ts',
]);
/** In a unit folder, but starts a process (the `openrtc machines` command). */
const SPAWNS = new Set(['test/actors/diagrams.test.ts']);

/**
 * Integration files that take longest, longest first. Two files run at a time; starting the long
 * ones first keeps one of them from being the last thing running alone (a fresh clone has no
 * vitest cache of durations to order by). Measured in a quiet run (vitest --reporter=json); order matters, exactness not.
 */
const SLOW_FIRST = [
  'test/package/pack.test.ts',
  'test/integration/cli.test.ts',
  'test/faults/supervisor-restart.test.ts',
  'test/ops/standby.test.ts',
  'test/inspect/web.test.ts',
  'test/ops/rollout.test.ts',
  'test/faults/hung-worker.test.ts',
  'test/livekit/cli.test.ts',
  'test/ops/hot-reload.test.ts',
  'test/ops/limits.test.ts',
  'test/faults/nats-outage.test.ts',
  'test/integration/dev-and-init.test.ts',
  'test/runtime/voice/session-runner.test.ts',
  'test/livekit/entry-agent.test.ts',
  'test/ops/partition.test.ts',
  'test/ops/rollout-signal.test.ts',
  'test/faults/crash-loop.test.ts',
];

class SlowFirst extends BaseSequencer {
  override async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (s: TestSpecification) => {
      const i = SLOW_FIRST.indexOf(relative(s.project.config.root, s.moduleId).replaceAll('\\', '/'));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: within a rank, vitest's own order stays.
    return (await super.sort(specs)).sort(
      (a, b) =>
        a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || rank(a) - rank(b),
    );
  }
}

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
    sequence: { sequencer: SlowFirst },
    // Files share their vitest process: @livekit/agents, onnxruntime, zod's schemas and our sources
    // are imported once per process, not once per file (about 1.5 s of CPU for an integration
    // file; the unit project took 66 s instead of 110 s on a loaded machine). So a file must not
    // assume a fresh process (test/runtime/voice/vad.test.ts says how) and must undo what it
    // changes globally (fake timers, spies: each restores in a finally).
    isolate: false,
    env: {
      // agents-js warns "slower than realtime" whenever a test feeds audio faster than real time.
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'error',
      // Every `openrtc` process a test starts runs the sources under test, never a stale dist/.
      OPENRTC_RUN_FROM: 'src',
    },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: files.filter(isUnit), maxWorkers: 2 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: files.filter((f) => !isUnit(f)),
          // Two files at a time: most of a file's time is waiting (speech played in real time,
          // heartbeats, processes starting), and every wait is on a condition with a generous
          // bound, so two files and a busy loop (`npm run test:stress`) share two cores.
          maxWorkers: 2,
        },
      },
    ],
  },
});
