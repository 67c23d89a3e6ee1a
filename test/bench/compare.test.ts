import { describe, expect, it } from 'vitest';
import {
  COMPARE_END,
  COMPARE_START,
  compareRows,
  compareSection,
  compareTable,
  replaceMarked,
} from '../../bench/lib/compare.ts';
import { summaryDoc } from '../../bench/lib/summary-doc.ts';

const hardware = { cpu: 'Test CPU', cores: 2, ram_gb: 8, node: 'v20.0.0', os: 'linux', load_1m: 3 };

/** A run's lines, shaped as the benchmarks print them (values chosen to be told apart). */
function results() {
  return {
    density: {
      n: 40,
      call_s: 180,
      fast_feed: true,
      whole_machine_ratio: 12.3,
      target_whole_machine_ratio: 25,
      ratio_pss_per_session: 61.7,
      target_ratio: 50,
      runs: [
        { call_s: 30, pool: { pss_mb_per_session: 1.1 }, process_per_job: { pss_mb_per_session: 90 } },
        { call_s: 180, pool: { pss_mb_per_session: 1.5 }, process_per_job: { pss_mb_per_session: 92.55 } },
        {
          call_s: 180,
          heap_growth: 50,
          pool: { pss_mb_per_session: 0.9, worker_pss_mb: 280, worker_idle_pss_mb: 244 },
          process_per_job: { pss_mb_per_session: 60 },
        },
      ],
      heap_growth: {
        percent: 50,
        whole_machine_ratio: 16.1,
        ratio_pss_per_session: 66.7,
        pool_pss_mb_per_session: 0.9,
        worker_cpu_ratio: 1.07,
      },
      pool: {
        whole_pss_mb: 480,
        whole_pss_mb_per_session: 12,
        pss_mb_per_session: 1.5,
        supervisor_pss_mb: 160,
        worker_pss_mb: 300,
        worker_idle_pss_mb: 240,
        nats_pss_mb: 20,
      },
      process_per_job: {
        whole_pss_mb: 5904,
        whole_pss_mb_per_session: 147.6,
        pss_mb_per_session: 92.55,
        server_pss_mb: 100,
        jobs_pss_mb: 3702,
        inference_pss_mb: 300,
      },
      hardware,
    },
    capacity: {
      vad_only_streams: 80,
      pool_sessions: 96,
      ratio: 1.2,
      target_ratio: 1,
      machine_workers: 2,
      machine_sessions: 170,
      agents_js_sessions: 17,
      machine_ratio_to_agents_js: 10,
      pool_cpu_cores: 0.9,
      vad_only_cpu_cores: 0.95,
      loop_p99_ms: 14.2,
      hardware,
    },
    dispatch: {
      in_flight: 4,
      p99_ms: 17.4,
      target_p99_ms: 10,
      inflight_p99_ms: 44.1,
      agents_js_warm_p50_ms: 151.2,
      ratio_warm_p50_to_inflight_p99: 3.43,
      process_per_job_cold_ms: 1540,
      sequential: { hops_median_ms: { dispatch_ok: 2.1, to_worker: 3.3, prewarm: 6.6, connect: 1.2 } },
      hops_median_ms: { dispatch_ok: 5, prewarm: 9 },
      tail_hops_mean_ms: { dispatch_ok: 7, to_worker: 31.5 },
      hardware,
    },
    failover: {
      heartbeat_ms: 1000,
      detect_ms_median: 41,
      target_detect_ms: 100,
      remote_detect_ms_median: 3100,
      target_remote_detect_ms: 3500,
      ready_ms_median: 2650,
      target_ready_ms: 2000,
      hops_median_ms: { exitSeen: 40, respawned: 520, registering: 2400, ready: 2650 },
      remote_hops_median_ms: { exitSeen: 3100, ready: 5800 },
      spare_ready_ms_median: 38,
      target_spare_ready_ms: 250,
      spare_replenished_ms_median: 2700,
      hardware,
    },
    protocol: {
      max_ratio: 3.4,
      target_ratio: 3,
      ratios: { 'session.state': 2.9, inspect: 3.4, ack: 2.1 },
      hardware,
    },
    soak: {
      sessions: 5000,
      workers: 2,
      supervisor_mb_per_1000: 0.21,
      worker_mb_per_1000: 0.8,
      target_mb_per_1000: 1,
      checkpoints: [
        { sessions: 0, supervisor_mb: 50, workers_mb: [52, 53] },
        { sessions: 5000, supervisor_mb: 51, workers_mb: [56, 55] },
      ],
      hardware,
    },
    startup: {
      node_ms: 80,
      worker_ready_ms: 1900,
      ratio_worker_ready: 23.8,
      worker_boot_ms: { main: 500, sessionRuntime: 1500, prewarmed: 1850 },
      targets: { worker_ready_ms: 1200 },
    },
  };
}

const row = (rows: ReturnType<typeof compareRows>, figure: string) => {
  const r = rows.find((x) => x.figure.startsWith(figure));
  if (!r) throw new Error(`no row '${figure}'`);
  return r;
};

describe("the README's comparison table, from a run's lines", () => {
  it('puts each figure next to the target its line carries, with the verdict', () => {
    const rows = compareRows(results());
    const whole = row(rows, 'whole-machine memory');
    expect(whole).toMatchObject({
      pool: '12 MB',
      agentsJs: '147.6 MB',
      ratio: '12.3× less',
      target: '≥ 25×',
      met: false,
    });
    expect(whole.figure).toBe('whole-machine memory (PSS) per live session, N = 40, 180 s calls (fast-fed)');
    expect(row(rows, 'marginal memory')).toMatchObject({ pool: '1.5 MB', agentsJs: '92.55 MB', met: true });
    expect(row(rows, 'sessions one worker')).toMatchObject({
      target: '≥ 1',
      met: true,
      agentsJs: "17 on the machine, a process each (the pool's workers: 10×)",
    });
    expect(row(rows, 'dispatch → live session, p99 one at a time')).toMatchObject({
      pool: '17.4 ms',
      met: false,
    });
    expect(row(rows, 'dispatch → live session, p99 with 4 in flight')).toMatchObject({ met: true });
    expect(row(rows, 'replacement ready after a kill, with a spare')).toMatchObject({
      pool: '38 ms median',
      met: true,
    });
    expect(row(rows, 'replacement ready after a kill, without')).toMatchObject({
      target: '≤ 2000 ms',
      met: false,
    });
    expect(row(rows, 'detection of a remote')).toMatchObject({ met: true });
    expect(row(rows, 'decode of every hot')).toMatchObject({ pool: 'worst 3.4×', met: false });
    expect(row(rows, 'heap growth')).toMatchObject({ met: true });
    const lean = row(rows, 'marginal memory per session, `--heap-growth 50`');
    expect(lean).toMatchObject({ pool: '0.9 MB', agentsJs: '60 MB', ratio: '66.7× less', met: true });
    expect(lean.figure).toContain("the worker's CPU per audio second 1.07× the default's");
  });

  it("explains a missed target with the same line's breakdown, largest first", () => {
    const rows = compareRows(results());
    expect(row(rows, 'whole-machine memory').where).toBe(
      'per session, pool: worker_pss_mb 7.5 MB, supervisor_pss_mb 4 MB, nats_pss_mb 0.5 MB; ' +
        'agents-js: jobs_pss_mb 92.55 MB, inference_pss_mb 7.5 MB, server_pss_mb 2.5 MB',
    );
    expect(row(rows, 'marginal memory').where).toBe(
      'pool worker 300 MB with the sessions, 240 MB idle; agents-js job processes 3702 MB for 40 sessions; ' +
        'marginal by call length, pool: 30 s 1.1 MB, 180 s 1.5 MB; agents-js: 30 s 90 MB, 180 s 92.55 MB',
    );
    expect(row(rows, 'dispatch → live session, p99 one at a time').where).toBe(
      'median hops, one at a time: prewarm 6.6 ms, to_worker 3.3 ms, dispatch_ok 2.1 ms, connect 1.2 ms',
    );
    // a run with the slowest 1 % gives it first (an older run has medians only, as above)
    expect(row(rows, 'dispatch → live session, p99 with 4 in flight').where).toBe(
      'slowest 1 %, mean hops, in flight: to_worker 31.5 ms, dispatch_ok 7 ms; median hops, in flight: prewarm 9 ms, dispatch_ok 5 ms',
    );
    // a timeline (ms after the loss) keeps its order
    expect(row(rows, 'replacement ready after a kill, without').where).toBe(
      'ms after the kill (medians): exitSeen 40 ms, respawned 520 ms, registering 2400 ms, ready 2650 ms',
    );
    const table = compareTable(results());
    expect(table).toContain('| **missed** | median hops, one at a time: prewarm 6.6 ms');
    // a met target carries no explanation
    expect(table).not.toContain('a new spare ready 2700 ms');
  });

  it('says "not measured" when a benchmark has no line, never a figure', () => {
    const { density: _, ...rest } = results();
    const rows = compareRows(rest);
    expect(row(rows, 'whole-machine memory')).toMatchObject({ pool: 'not measured', met: undefined });
    expect(compareTable(rest)).not.toContain('NaN');
    expect(compareTable(rest)).not.toContain('undefined');
  });

  it('replaces only what lies between the markers, and names them when one is missing', () => {
    const readme = `# T\n\n\`\`\`bash\nnpm run demo\n\`\`\`\n\n## How it compares\n\n${COMPARE_START}\nold table\n${COMPARE_END}\n\n## Use\n`;
    const run = { date: '2026-12-01 06:00 UTC', commit: 'abc1234', results: results() };
    const out = replaceMarked(readme, compareSection(run));
    expect(out.startsWith('# T\n\n```bash\nnpm run demo\n```\n\n## How it compares\n\n')).toBe(true);
    expect(out.endsWith(`${COMPARE_END}\n\n## Use\n`)).toBe(true);
    expect(out).not.toContain('old table');
    expect(out).toContain('the full run that ended 2026-12-01 06:00 UTC, at commit abc1234');
    expect(out).toContain('load average at the\nend of each benchmark: density 3, capacity 3, dispatch 3');
    expect(replaceMarked(out, compareSection(run))).toBe(out);
    expect(() => replaceMarked('# T\n', 'x')).toThrow(/bench:compare:start/);
  });

  it('writes both tables from a run of one benchmark alone', () => {
    const run = { date: 'd', commit: 'c', results: { protocol: results().protocol } };
    expect(summaryDoc(run)).toContain('Test CPU, 2 cores');
    expect(compareSection(run)).toContain('Test CPU, 2 cores, Node v20.0.0');
  });

  it('names benchmarks run again after the full run, and startup against its own targets', () => {
    const run = {
      date: '2026-12-01 06:00 UTC',
      commit: 'abc1234',
      results: results(),
      reruns: [{ bench: 'startup', date: '2026-12-01 06:40 UTC', commit: 'def5678' }],
    };
    expect(compareSection(run)).toContain('; startup run again on 2026-12-01 06:40 UTC at commit def5678');
    const doc = summaryDoc(run);
    expect(doc).toContain(
      '| worker_ready_ms | 1900 ms median |  | 23.8× `node -e 0` (80 ms in the same run) | ≤ 1200 ms | **missed** | boot timeline, ms since the process started: main 500, sessionRuntime 1500, prewarmed 1850 |',
    );
  });
});
