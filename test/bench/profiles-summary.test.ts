import { describe, expect, it } from 'vitest';
import { profilesSummary } from '../../bench/lib/profiles-summary.ts';

describe('the saved profiles, summarised from their files', () => {
  it("lists a dispatch-path profile's hops and each process's busiest packages from its data", () => {
    const md = profilesSummary({
      'dispatch-path.json': {
        generated_by: 'npx tsx bench/profile/dispatch-path.ts --write-docs',
        commit: 'abc1234',
        load_1m: 4.2,
        n: 100,
        warmup: 20,
        hops: { total: { what: 'request → `active`', p50_ms: 31, p90_ms: 40, p99_ms: 77 } },
        processes: [
          {
            role: 'worker',
            window_ms: 1000,
            busy_ms: 600,
            self_by_package: [
              { name: '@livekit/agents', ms: 120 },
              { name: 'xstate', ms: 80 },
              { name: 'zod', ms: 20 },
              { name: 'pino', ms: 10 },
            ],
            inclusive_ours: [{ name: 'handle src/runtime/nats/bus.ts:1', ms: 300 }],
          },
        ],
      },
    });
    expect(md).toContain(
      '### [dispatch-path.json](profiles/dispatch-path.json) (npx tsx bench/profile/dispatch-path.ts --write-docs)',
    );
    expect(md).toContain('100 dispatches one at a time after 20 warm-up, commit abc1234, load average 4.2');
    expect(md).toContain('| request → `active` | 31 | 40 | 77 |');
    expect(md).toContain(
      '| worker | 600 of 1000 ms | @livekit/agents 120 ms, xstate 80 ms, zod 20 ms | handle src/runtime/nats/bus.ts:1 300 ms |',
    );
    expect(md).not.toContain('pino');
  });

  it("gives a session-memory profile's per-session split, with the heap growth it ran at", () => {
    const profile = (growth: number | null) => ({
      generated_by: 'npx tsx bench/profile/session-memory.ts 52 --seconds 30 --write-docs',
      commit: 'abc1234',
      load_1m: 1.5,
      sessions: 52,
      fed_s_min: 30.2,
      heap_growth_percent: growth,
      worker_cpu_ms_per_session: 575,
      mb_per_session: {
        pss: 4.6,
        heap_used_after_gc: 0.47,
        heap_total: 1.4,
        array_buffers: 0.6,
        garbage_before_gc: 0.8,
      },
      rss_mb_per_session_by_mapping: { anon_256k: 2.3, malloc_heap: 1.7, anon_other: 0.1, file: 0 },
    });
    const md = profilesSummary({
      'session-memory.json': profile(null),
      'session-memory-heap-growth-50.json': profile(50),
      'session-memory-notes.json': { generated_by: 'by hand' },
    });
    expect(md).toContain(
      "52 sessions fed 30.2 s each, V8's default heap growth, commit abc1234, load average 1.5: per session, PSS 4.6 MB; live heap after a full GC 0.47 MB",
    );
    expect(md).toContain(
      'resident by mapping: anon_256k 2.3 MB, malloc_heap 1.7 MB, anon_other 0.1 MB, file 0 MB; worker CPU 575 ms.',
    );
    expect(md).toContain('52 sessions fed 30.2 s each, `--heap-growth 50`, commit abc1234');
    // a file of another shape is listed by name only
    expect(md).toContain(
      '### [session-memory-notes.json](profiles/session-memory-notes.json) (by hand)\n\n###',
    );
  });

  it("gives a worker-boot profile's phases of the median run", () => {
    const md = profilesSummary({
      'worker-boot.json': {
        bench: 'worker-boot-profile',
        runs: 5,
        node_ms: 90,
        median_run: {
          ready_ms: 2400,
          threads_busy_ms: [200, 100],
          phases: [
            {
              phase: 'session runtime import',
              from_ms: 500,
              to_ms: 2000,
              busy_ms: 1400,
              top: [{ what: 'zod', ms: 40 }],
            },
          ],
        },
      },
    });
    expect(md).toContain('Median of 5 runs: spawn → ready 2400 ms (`node -e 0`: 90 ms)');
    expect(md).toContain('| session runtime import | 500 | 2000 | 1400 | zod 40 ms |');
  });

  it("gives a session-growth profile's growth per session per 10 s of call", () => {
    const md = profilesSummary({
      'session-growth.json': {
        generated_by: 'node --expose-gc --import tsx bench/profile/session-growth.ts --write-docs',
        commit: 'abc1234',
        load_1m: 2,
        sessions: 10,
        window_s: 30,
        heap_mb_per_session_per_10s: 0.12,
        array_buffers_mb_per_session_per_10s: 0.03,
        rss_mb_per_session_per_10s: 0.4,
        input_mb_per_10s: 0.31,
      },
    });
    expect(md).toContain(
      '10 sessions at real time, 30 s window after full GCs, commit abc1234, load average 2: per session per 10 s of call, heap 0.12 MB, ArrayBuffers 0.03 MB, RSS 0.4 MB (the input audio itself: 0.31 MB per 10 s).',
    );
  });

  it('names a file of an unknown shape without inventing figures', () => {
    expect(profilesSummary({ 'other.json': { x: 1 } })).toBe('### [other.json](profiles/other.json)');
    expect(profilesSummary({})).toBe('No saved profiles.');
  });
});
