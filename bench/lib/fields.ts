/**
 * The fields each benchmark's one JSON line must carry, besides `bench` and `hardware`. `npm run
 * bench` checks every line against this, so a benchmark that stops reporting a figure fails.
 */
const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
const isBoolean = (x: unknown) => typeof x === 'boolean';

export const REQUIRED_FIELDS: Record<string, Record<string, (x: unknown) => boolean>> = {
  density: {
    n: isNumber,
    whole_machine_ratio: isNumber,
    ratio_pss_per_session: isNumber,
    'pool.whole_pss_mb_per_session': isNumber,
    'pool.pss_mb_per_session': isNumber,
    'process_per_job.whole_pss_mb_per_session': isNumber,
    'process_per_job.pss_mb_per_session': isNumber,
    'heap_growth.ratio_pss_per_session': isNumber,
    'heap_growth.worker_cpu_ratio': isNumber,
  },
  capacity: {
    vad_only_streams: isNumber,
    pool_sessions: isNumber,
    ratio: isNumber,
    loop_p99_ms: isNumber,
    machine_sessions: isNumber,
    agents_js_sessions: isNumber,
  },
  dispatch: {
    n: isNumber,
    p50_ms: isNumber,
    p99_ms: isNumber,
    inflight_p99_ms: isNumber,
    agents_js_warm_p50_ms: isNumber,
    process_per_job_cold_ms: isNumber,
    ratio_cold_to_p99: isNumber,
  },
  failover: {
    runs: isNumber,
    detect_ms_median: isNumber,
    detect_ms_max: isNumber,
    ready_ms_median: isNumber,
    ready_ms_max: isNumber,
    remote_detect_ms_median: isNumber,
    spare_ready_ms_median: isNumber,
    dispatch_after_kill_ok: isBoolean,
  },
  protocol: { encode_ns: isNumber, decode_ns: isNumber, max_ratio: isNumber },
  startup: {
    node_ms: isNumber,
    help_ms: isNumber,
    status_ms: isNumber,
    worker_ready_ms: isNumber,
    ratio_help: isNumber,
    ratio_status: isNumber,
    ratio_worker_ready: isNumber,
  },
  soak: {
    sessions: isNumber,
    supervisor_mb_per_1000: isNumber,
    worker_mb_per_1000: isNumber,
    supervisor_heap_mb_after: isNumber,
  },
};

const get = (o: unknown, path: string) =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      o,
    );

/** What is wrong with a benchmark's stdout: not exactly one JSON line, or a field missing. */
export function resultProblems(name: string, stdout: string): string[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) return [`${name}: printed ${lines.length} lines on stdout, expected 1 JSON line`];
  let result: Record<string, unknown>;
  try {
    result = JSON.parse(lines[0] as string) as Record<string, unknown>;
  } catch {
    return [`${name}: its stdout line is not JSON`];
  }
  const problems: string[] = [];
  if (result.bench !== name) problems.push(`${name}: bench is ${JSON.stringify(result.bench)}`);
  const hw = result.hardware as Record<string, unknown> | undefined;
  if (
    typeof hw?.cpu !== 'string' ||
    !isNumber(hw?.cores) ||
    !isNumber(hw?.ram_gb) ||
    hw?.node !== process.version
  )
    problems.push(`${name}: hardware is incomplete: ${JSON.stringify(hw)}`);
  for (const [field, ok] of Object.entries(REQUIRED_FIELDS[name] ?? {})) {
    if (!ok(get(result, field))) problems.push(`${name}.${field} = ${JSON.stringify(get(result, field))}`);
  }
  return problems;
}
