import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

/** Runs one benchmark in its tiniest mode; returns its stdout lines. */
function runBench(name: string, mode: '--smoke' | '--quick'): string[] {
  const r = spawnSync(TSX, [`bench/${name}.bench.ts`, mode], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, OPENRTC_BENCH_LOG: 'warn' },
  });
  if (r.status !== 0) throw new Error(`bench ${name} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

function docMtime(name: string): number {
  try {
    return statSync(`${ROOT}docs/benchmarks/${name}.md`).mtimeMs;
  } catch {
    return 0;
  }
}

const isNumber = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

/** Fields each benchmark's JSON line must carry (besides `bench` and `hardware`), and their kind. */
const REQUIRED: Record<string, Record<string, (x: unknown) => boolean>> = {
  density: {
    n: isNumber,
    ratio_pss_per_session: isNumber,
    'pool.rss_mb': isNumber,
    'pool.pss_mb': isNumber,
    'pool.pss_mb_per_session': isNumber,
    'process_per_job.rss_mb': isNumber,
    'process_per_job.pss_mb': isNumber,
    'process_per_job.pss_mb_per_session': isNumber,
  },
  capacity: { vad_only_streams: isNumber, pool_sessions: isNumber, ratio: isNumber, loop_p99_ms: isNumber },
  dispatch: {
    n: isNumber,
    p50_ms: isNumber,
    p99_ms: isNumber,
    process_per_job_cold_ms: isNumber,
    ratio_cold_to_p99: isNumber,
  },
  failover: {
    runs: isNumber,
    detect_ms_median: isNumber,
    detect_ms_max: isNumber,
    ready_ms_median: isNumber,
    ready_ms_max: isNumber,
    dispatch_after_kill_ok: (x) => typeof x === 'boolean',
  },
  protocol: { encode_ns: isNumber, decode_ns: isNumber },
};

const get = (o: unknown, path: string) =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      o,
    );

describe('benchmarks in their tiniest mode', () => {
  for (const name of Object.keys(REQUIRED)) {
    it(`${name} prints exactly one JSON line with its fields and the hardware, and writes no table`, () => {
      const before = docMtime(name);
      // protocol.bench.ts has no smoke mode; its quick mode takes a few seconds.
      const lines = runBench(name, name === 'protocol' ? '--quick' : '--smoke');
      expect(lines).toHaveLength(1);
      const result = JSON.parse(lines[0] as string) as Record<string, unknown>;
      expect(result.bench).toBe(name);
      const hw = result.hardware as Record<string, unknown>;
      expect(typeof hw.cpu).toBe('string');
      expect(hw.cores).toBeGreaterThan(0);
      expect(hw.ram_gb).toBeGreaterThan(0);
      expect(hw.node).toBe(process.version);
      for (const [field, ok] of Object.entries(REQUIRED[name] ?? {})) {
        expect(ok(get(result, field)), `${name}.${field} = ${JSON.stringify(get(result, field))}`).toBe(true);
      }
      expect(docMtime(name)).toBe(before);
    }, 90_000);
  }
});
