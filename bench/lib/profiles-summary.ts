/**
 * docs/benchmarks/README.md's "Saved profiles" section: each JSON file in docs/benchmarks/profiles/,
 * summarised from its own data (its figures, its labels). Pure: parsed files in, markdown out. A
 * file of a shape this does not know is listed by name only.
 */
import { mdTable } from './report.ts';

type R = Record<string, unknown>;
const obj = (x: unknown): R => (x && typeof x === 'object' ? (x as R) : {});
const arr = (x: unknown): R[] => (Array.isArray(x) ? (x as R[]) : []);
const top = (xs: unknown, n: number, name = 'name', ms = 'ms') =>
  arr(xs)
    .slice(0, n)
    .map((t) => `${t[name]} ${t[ms]} ms`)
    .join(', ');

/** dispatch-path.json (bench/profile/dispatch-path.ts): hops, and each process's busiest packages. */
function dispatchPath(p: R): string {
  const hops = mdTable(
    ['hop', 'p50 ms', 'p90 ms', 'p99 ms'],
    Object.values(obj(p.hops)).map((h) => {
      const o = obj(h);
      return [String(o.what), String(o.p50_ms), String(o.p90_ms), String(o.p99_ms)];
    }),
  );
  const procs = mdTable(
    ['process', 'busy in the window', 'self time by package (top 3)', 'our functions, inclusive (top 3)'],
    arr(p.processes).map((x) => [
      String(x.role),
      `${x.busy_ms} of ${x.window_ms} ms`,
      top(x.self_by_package, 3),
      top(x.inclusive_ours, 3),
    ]),
  );
  return `${p.n} dispatches one at a time after ${p.warmup} warm-up, commit ${p.commit}, load average ${p.load_1m}:\n\n${hops}\n\n${procs}`;
}

/** worker-boot.json (bench/profile/worker-boot-profile.ts): the median run's main-thread phases. */
function workerBoot(p: R): string {
  const m = obj(p.median_run);
  const phases = mdTable(
    ['phase', 'from ms', 'to ms', 'main thread busy ms', 'top 3'],
    arr(m.phases).map((x) => [
      String(x.phase),
      String(x.from_ms),
      String(x.to_ms),
      String(x.busy_ms),
      top(x.top, 3, 'what'),
    ]),
  );
  return `Median of ${p.runs} runs: spawn → ready ${m.ready_ms} ms (\`node -e 0\`: ${p.node_ms} ms); other threads busy ${JSON.stringify(m.threads_busy_ms)} ms:\n\n${phases}`;
}

/** session-growth.json (bench/profile/session-growth.ts): memory growth per session with call time. */
function sessionGrowth(p: R): string {
  return `${p.sessions} sessions at real time, ${p.window_s} s window after full GCs, commit ${p.commit}, load average ${p.load_1m}: per session per 10 s of call, heap ${p.heap_mb_per_session_per_10s} MB, ArrayBuffers ${p.array_buffers_mb_per_session_per_10s} MB, RSS ${p.rss_mb_per_session_per_10s} MB (the input audio itself: ${p.input_mb_per_10s} MB per 10 s).`;
}

/**
 * session-memory*.json (bench/profile/session-memory.ts): a live session's memory in one worker,
 * per session: PSS, live heap, ArrayBuffers, committed heap, and resident memory by kind of mapping.
 */
function sessionMemory(p: R): string {
  const m = obj(p.mb_per_session);
  const maps = Object.entries(obj(p.rss_mb_per_session_by_mapping))
    .map(([k, v]) => `${k} ${v} MB`)
    .join(', ');
  const growth =
    p.heap_growth_percent === null || p.heap_growth_percent === undefined
      ? "V8's default heap growth"
      : `\`--heap-growth ${p.heap_growth_percent}\``;
  return `${p.sessions} sessions fed ${p.fed_s_min} s each, ${growth}, commit ${p.commit}, load average ${p.load_1m}: per session, PSS ${m.pss} MB; live heap after a full GC ${m.heap_used_after_gc} MB, live ArrayBuffers ${m.array_buffers} MB, V8 heap committed ${m.heap_total} MB, garbage before the GC ${m.garbage_before_gc} MB${maps ? `; resident by mapping: ${maps}` : ''}${p.worker_cpu_ms_per_session !== undefined ? `; worker CPU ${p.worker_cpu_ms_per_session} ms` : ''}.`;
}

const KNOWN: Record<string, (p: R) => string> = {
  'session-growth.json': sessionGrowth,
  'dispatch-path.json': dispatchPath,
  'worker-boot.json': workerBoot,
};

export function profilesSummary(files: Record<string, unknown>): string {
  const names = Object.keys(files).sort();
  if (!names.length) return 'No saved profiles.';
  return names
    .map((name) => {
      const p = obj(files[name]);
      const by = p.generated_by ?? p.bench;
      const head = `### [${name}](profiles/${name})${by ? ` (${String(by)})` : ''}`;
      const body =
        KNOWN[name] ?? (/^session-memory(-heap-growth-\d+)?\.json$/.test(name) ? sessionMemory : undefined);
      return body ? `${head}\n\n${body(p)}` : head;
    })
    .join('\n\n');
}
