/**
 * The headline comparison of a full run, from the run's JSON lines only: every figure, target and
 * explanation below is read from a benchmark's line (bench/run.ts keeps them in
 * docs/benchmarks/results.json). Pure: results in, rows and markdown out. README.md's "How it
 * compares" table and docs/benchmarks/README.md are both rendered from these rows.
 */
import { mdTable } from './report.ts';

type R = Record<string, unknown>;

export interface CompareRow {
  bench: string;
  figure: string;
  pool: string;
  agentsJs: string;
  ratio: string;
  target: string;
  /** undefined: the benchmark's line is missing or lacks the figure. */
  met: boolean | undefined;
  /** Where the time or memory goes, from the same line's breakdown fields; for missed targets. */
  where: string;
}

const obj = (r: unknown): R | undefined => (r && typeof r === 'object' ? (r as R) : undefined);
const num = (r: unknown, k: string): number | undefined => {
  const v = obj(r)?.[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};
const fmt = (x: number | undefined, unit = '') => (x === undefined ? 'not measured' : `${x}${unit}`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const cmp = (x: number | undefined, target: number | undefined, ok: (x: number, t: number) => boolean) =>
  x === undefined || target === undefined ? undefined : ok(x, target);
/** `key value` pairs of a breakdown object, largest first (or in the line's order), with `unit`. */
const breakdown = (o: unknown, unit: string, scale = 1, largestFirst = true) =>
  Object.entries(obj(o) ?? {})
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .sort((a, b) => (largestFirst ? b[1] - a[1] : 0))
    .map(([k, v]) => `${k} ${round(v * scale, 2)}${unit}`)
    .join(', ');
/** Where a dispatch pass's time goes: its slowest 1 % hop by hop (when the run has it), its median. */
const hopsWhere = (pass: string, r: R | undefined) => {
  const median = `median hops, ${pass}: ${breakdown(r?.hops_median_ms, ' ms')}`;
  return r?.tail_hops_mean_ms === undefined
    ? median
    : `slowest 1 %, mean hops, ${pass}: ${breakdown(r.tail_hops_mean_ms, ' ms')}; ${median}`;
};
/** The `*_pss_mb` parts of a density side, per session. */
const parts = (side: unknown, n: number | undefined) =>
  breakdown(
    Object.fromEntries(
      Object.entries(obj(side) ?? {}).filter(
        ([k]) => k.endsWith('_pss_mb') && !k.startsWith('whole') && !k.includes('idle'),
      ),
    ),
    ' MB',
    n ? 1 / n : 1,
  );

/** Marginal PSS per session at each call length the run measured. */
const byCall = (runs: unknown) => {
  // V8's default only: the heap-growth pass has a row of its own.
  const rs = Array.isArray(runs) ? (runs as R[]).filter((x) => x.heap_growth === undefined) : [];
  if (rs.length < 2) return '';
  const side = (k: string) =>
    rs.map((x) => `${fmt(num(x, 'call_s'), ' s')} ${fmt(num(x[k], 'pss_mb_per_session'), ' MB')}`).join(', ');
  return `; marginal by call length, pool: ${side('pool')}; agents-js: ${side('process_per_job')}`;
};

/** One row per issue-15 target, in the order the issue lists them. */
export function compareRows(results: Record<string, R | undefined>): CompareRow[] {
  const d = results.density;
  const c = results.capacity;
  const x = results.dispatch;
  const f = results.failover;
  const p = results.protocol;
  const s = results.soak;
  const dPool = obj(d?.pool);
  const dBase = obj(d?.process_per_job);
  const n = num(d, 'n');
  const seq = obj(x?.sequential);
  const rows: CompareRow[] = [];

  const wholeRatio = num(d, 'whole_machine_ratio');
  const wholeTarget = num(d, 'target_whole_machine_ratio');
  rows.push({
    bench: 'density',
    figure: `whole-machine memory (PSS) per live session, N = ${fmt(n)}, ${fmt(num(d, 'call_s'))} s calls${d?.fast_feed === true ? ' (fast-fed)' : ''}`,
    pool: fmt(num(dPool, 'whole_pss_mb_per_session'), ' MB'),
    agentsJs: fmt(num(dBase, 'whole_pss_mb_per_session'), ' MB'),
    ratio: `${fmt(wholeRatio, '×')} less`,
    target: `≥ ${fmt(wholeTarget, '×')}`,
    met: cmp(wholeRatio, wholeTarget, (v, t) => v >= t),
    where: `per session, pool: ${parts(dPool, n)}; agents-js: ${parts(dBase, n)}`,
  });
  const margRatio = num(d, 'ratio_pss_per_session');
  const margTarget = num(d, 'target_ratio');
  rows.push({
    bench: 'density',
    figure: 'marginal memory (PSS) per session',
    pool: fmt(num(dPool, 'pss_mb_per_session'), ' MB'),
    agentsJs: fmt(num(dBase, 'pss_mb_per_session'), ' MB'),
    ratio: `${fmt(margRatio, '×')} less`,
    target: `≥ ${fmt(margTarget, '×')}`,
    met: cmp(margRatio, margTarget, (v, t) => v >= t),
    where: `pool worker ${fmt(num(dPool, 'worker_pss_mb'), ' MB')} with the sessions, ${fmt(num(dPool, 'worker_idle_pss_mb'), ' MB')} idle; agents-js job processes ${fmt(num(dBase, 'jobs_pss_mb'), ' MB')} for ${fmt(n)} sessions${byCall(d?.runs)}`,
  });
  const g = obj(d?.heap_growth);
  if (g) {
    const gRuns = Array.isArray(d?.runs) ? (d.runs as R[]) : [];
    const gRow = gRuns.find((r) => r.heap_growth !== undefined);
    const gRatio = num(g, 'ratio_pss_per_session');
    rows.push({
      bench: 'density',
      // The CPU it costs is part of the figure, met or not (a met target's row carries no \`where\`).
      figure: `marginal memory per session, \`--heap-growth ${fmt(num(g, 'percent'))}\` (the same V8 setting on both sides; the worker's CPU per audio second ${fmt(num(g, 'worker_cpu_ratio'), '×')} the default's)`,
      pool: fmt(num(g, 'pool_pss_mb_per_session'), ' MB'),
      agentsJs: fmt(num(obj(gRow?.process_per_job), 'pss_mb_per_session'), ' MB'),
      ratio: `${fmt(gRatio, '×')} less`,
      target: `≥ ${fmt(margTarget, '×')}`,
      met: cmp(gRatio, margTarget, (v, t) => v >= t),
      where: `pool worker ${fmt(num(obj(gRow?.pool), 'worker_pss_mb'), ' MB')} with the sessions, ${fmt(num(obj(gRow?.pool), 'worker_idle_pss_mb'), ' MB')} idle; whole machine ${fmt(num(g, 'whole_machine_ratio'), '×')} less`,
    });
  }

  const capRatio = num(c, 'ratio');
  const capTarget = num(c, 'target_ratio');
  const poolN = num(c, 'pool_sessions');
  const vadN = num(c, 'vad_only_streams');
  const poolCpu = num(c, 'pool_cpu_cores');
  const vadCpu = num(c, 'vad_only_cpu_cores');
  const perCore = (cpu: number | undefined, k: number | undefined) =>
    cpu === undefined || !k ? 'not measured' : `${round((cpu / k) * 100, 2)}% of a core`;
  rows.push({
    bench: 'capacity',
    figure: 'sessions one worker process sustains in real time',
    pool: `${fmt(poolN)} (one worker per core, ${fmt(num(c, 'machine_workers'))} workers: ${fmt(num(c, 'machine_sessions'))})`,
    agentsJs:
      num(c, 'agents_js_sessions') === undefined
        ? '—'
        : `${fmt(num(c, 'agents_js_sessions'))} on the machine, a process each (the pool's workers: ${fmt(num(c, 'machine_ratio_to_agents_js'), '×')})`,
    ratio: `${fmt(capRatio)} of the bare unbatched Silero streams one process sustains (${fmt(vadN)})`,
    target: `≥ ${fmt(capTarget)}`,
    met: cmp(capRatio, capTarget, (v, t) => v >= t),
    where: `CPU at the limit: pool worker ${fmt(poolCpu)} cores for ${fmt(poolN)} sessions (${perCore(poolCpu, poolN)} each); bare Silero ${fmt(vadCpu)} cores for ${fmt(vadN)} streams (${perCore(vadCpu, vadN)} each); loop delay p99 ${fmt(num(c, 'loop_p99_ms'), ' ms')}`,
  });

  const p99 = num(x, 'p99_ms');
  const p99Target = num(x, 'target_p99_ms');
  const warmP50 = num(x, 'agents_js_warm_p50_ms');
  rows.push({
    bench: 'dispatch',
    figure: 'dispatch → live session, p99 one at a time',
    pool: fmt(p99, ' ms'),
    agentsJs: `warm path p50 ${fmt(warmP50, ' ms')}; cold path median ${fmt(num(x, 'process_per_job_cold_ms'), ' ms')}`,
    ratio: '',
    target: `≤ ${fmt(p99Target, ' ms')}`,
    met: cmp(p99, p99Target, (v, t) => v <= t),
    where: hopsWhere('one at a time', seq),
  });
  const inflight = num(x, 'inflight_p99_ms');
  rows.push({
    bench: 'dispatch',
    figure: `dispatch → live session, p99 with ${fmt(num(x, 'in_flight'))} in flight`,
    pool: fmt(inflight, ' ms'),
    agentsJs: `warm path p50 ${fmt(warmP50, ' ms')}`,
    ratio: `${fmt(num(x, 'ratio_warm_p50_to_inflight_p99'), '×')} (warm p50 / our p99)`,
    target: 'below agents-js warm p50',
    met: cmp(inflight, warmP50, (v, t) => v < t),
    where: hopsWhere('in flight', x),
  });

  const failoverRow = (figure: string, key: string, targetKey: string, where: string): CompareRow => {
    const v = num(f, key);
    const t = num(f, targetKey);
    return {
      bench: 'failover',
      figure,
      pool: `${fmt(v, ' ms')} median`,
      agentsJs: '—',
      ratio: '',
      target: `≤ ${fmt(t, ' ms')}`,
      met: cmp(v, t, (a, b) => a <= b),
      where,
    };
  };
  rows.push(
    failoverRow(
      'replacement ready after a kill, with a spare',
      'spare_ready_ms_median',
      'target_spare_ready_ms',
      `a new spare ready ${fmt(num(f, 'spare_replenished_ms_median'), ' ms')} after the kill`,
    ),
    failoverRow(
      'replacement ready after a kill, without a spare',
      'ready_ms_median',
      'target_ready_ms',
      `ms after the kill (medians): ${breakdown(f?.hops_median_ms, ' ms', 1, false)}`,
    ),
    failoverRow('detection of a local worker (its exit)', 'detect_ms_median', 'target_detect_ms', ''),
    failoverRow(
      `detection of a remote (hung) worker, heartbeat ${fmt(num(f, 'heartbeat_ms'), ' ms')}`,
      'remote_detect_ms_median',
      'target_remote_detect_ms',
      `ms after the hang (medians): ${breakdown(f?.remote_hops_median_ms, ' ms', 1, false)}`,
    ),
  );

  const maxRatio = num(p, 'max_ratio');
  const pTarget = num(p, 'target_ratio');
  rows.push({
    bench: 'protocol',
    figure: 'decode of every hot message type, against JSON.parse',
    pool: `worst ${fmt(maxRatio, '×')}`,
    agentsJs: '—',
    ratio: '',
    target: `≤ ${fmt(pTarget, '×')}`,
    met: cmp(maxRatio, pTarget, (v, t) => v <= t),
    where: `per type: ${breakdown(p?.ratios, '×')}`,
  });

  const sup = num(s, 'supervisor_mb_per_1000');
  const wrk = num(s, 'worker_mb_per_1000');
  const sTarget = num(s, 'target_mb_per_1000');
  const cps = Array.isArray(s?.checkpoints) ? (s.checkpoints as R[]) : [];
  const first = cps[0];
  const last = cps.at(-1);
  rows.push({
    bench: 'soak',
    figure: `heap growth after GC per 1,000 sessions, over ${fmt(num(s, 'sessions'))} sessions`,
    pool: `supervisor ${fmt(sup, ' MB')}, worker ${fmt(wrk, ' MB')} (the larger of ${fmt(num(s, 'workers'))})`,
    agentsJs: '—',
    ratio: '',
    target: `≤ ${fmt(sTarget, ' MB')}`,
    met:
      sup === undefined || wrk === undefined || sTarget === undefined
        ? undefined
        : sup <= sTarget && wrk <= sTarget,
    where:
      first && last
        ? `heap MB at ${fmt(num(first, 'sessions'))} sessions: supervisor ${fmt(num(first, 'supervisor_mb'))}, workers ${JSON.stringify(first.workers_mb)}; at ${fmt(num(last, 'sessions'))}: supervisor ${fmt(num(last, 'supervisor_mb'))}, workers ${JSON.stringify(last.workers_mb)}`
        : '',
  });
  return rows;
}

const verdictCell = (m: boolean | undefined) => (m === undefined ? 'not measured' : m ? 'met' : '**missed**');

/**
 * README.md's "How it compares" table: figure, both sides, ratio, target, verdict; for a missed
 * target, where the time or memory goes (from the same line's breakdown fields).
 */
export function compareTable(results: Record<string, R | undefined>): string {
  const rows = compareRows(results);
  return mdTable(
    [
      'figure',
      'OpenRTC pool',
      'agents-js process per job',
      'ratio',
      'target',
      '',
      'where it goes (missed targets)',
    ],
    rows.map((r) => [
      r.figure,
      r.pool,
      r.agentsJs,
      r.ratio,
      r.target,
      verdictCell(r.met),
      r.met === false ? r.where : '',
    ]),
  );
}

export const COMPARE_START = '<!-- bench:compare:start -->';
export const COMPARE_END = '<!-- bench:compare:end -->';

/** `text` with what lies between the two markers replaced by `body`; throws when a marker is missing. */
export function replaceMarked(text: string, body: string, start = COMPARE_START, end = COMPARE_END): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < 0 || b < a)
    throw new Error(`README.md: the generated table needs the markers ${start} and ${end}, in that order`);
  return `${text.slice(0, a + start.length)}\n${body.trim()}\n${text.slice(b)}`;
}

/** Where a run's lines were kept, and when and at which commit it ran (bench/run.ts). */
export interface RunRecord {
  date: string;
  commit: string;
  results: Record<string, R>;
  /** Benchmarks run again alone (`--only`) after the full run: their lines replaced the run's. */
  reruns?: { bench: string; date: string; commit: string }[];
}

/** "the full run of <date> at commit <c>", and each benchmark run again since. */
export function runProvenance(run: RunRecord): string {
  const again = (run.reruns ?? [])
    .map((r) => `; ${r.bench} run again on ${r.date} at commit ${r.commit}`)
    .join('');
  return `the full run that ended ${run.date}, at commit ${run.commit}${again}`;
}

/** The 1-minute load average each benchmark's line recorded when it ended. */
export function loads(results: Record<string, R | undefined>): string {
  return Object.entries(results)
    .map(([name, r]) => [name, num(obj(r)?.hardware, 'load_1m')] as const)
    .filter(([, l]) => l !== undefined)
    .map(([name, l]) => `${name} ${l}`)
    .join(', ');
}

/** The whole generated part of README.md's "How it compares". */
export function compareSection(run: RunRecord): string {
  const hw = obj(Object.values(run.results).find((r) => obj(r?.hardware))?.hardware) ?? {};
  return `Generated by \`npm run bench -- --write-docs\` from ${runProvenance(run)}
(docs/benchmarks/results.json): ${hw.cpu}, ${hw.cores} cores, Node ${hw.node}; 1-minute load average at the
end of each benchmark: ${loads(run.results)}. agents-js runs its own
AgentServer and process pool in the same run; method, every probe and profiles in
[docs/benchmarks/](docs/benchmarks/README.md).

${compareTable(run.results)}`;
}
