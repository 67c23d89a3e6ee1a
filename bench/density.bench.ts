/**
 * density: memory per voice session. Pool side: N sessions in ONE worker process of a real pool,
 * sharing one Silero model, on real-time speech (the bundled WAVs, looped). Baseline, in the same
 * run: agents-js's own AgentServer with N prewarmed job processes (prewarm loads Silero).
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/density.md.
 *
 *   npm run bench:density [-- --quick | --smoke]
 */
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { AgentsJsPool } from './lib/agents-js.ts';
import { densityDoc } from './lib/density-doc.ts';
import { hardware } from './lib/hardware.ts';
import { MemoryProbe, type MemoryProbeReading } from './lib/memory-probe.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { AUDIO, InspectWatch, startBenchPool, waitReady } from './lib/pool.ts';
import { type ProcMemory, procMemory, sumMemory } from './lib/proc.ts';
import { benchLog, emit, runBench, writeDoc } from './lib/report.ts';
import { round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('density');
const SIZES =
  process.env.OPENRTC_BENCH_DENSITY_SIZES?.split(',').map(Number) ??
  byMode(mode, { full: [1, 10, 50, 100], quick: [1, 20], smoke: [1] });
/** How long every session hears real-time speech before memory is read. */
const AUDIO_MS = byMode(mode, { full: 10_000, quick: 5_000, smoke: 1_000 });
/** Quiet time before reading memory of idle processes (GC, lazy init). */
const SETTLE_MS = byMode(mode, { full: 3_000, quick: 1_000, smoke: 500 });

interface PoolSide {
  idle: ProcMemory;
  loaded: ProcMemory;
  /** Right after the full GC the heap reading runs. */
  afterGc: ProcMemory;
  /** The worker's heap, read right after its PSS (the reading runs a full GC). */
  idleHeap: MemoryProbeReading;
  loadedHeap: MemoryProbeReading;
  sessions: number;
  speechOk: number;
}

interface BaselineSide {
  jobs: ProcMemory;
  /** The AgentServer process and agents-js's inference process (turn detector): fixed costs. */
  server: ProcMemory;
  inference: ProcMemory | undefined;
  initMs: number[];
}

interface DensityRun {
  n: number;
  pool: PoolSide;
  baseline: BaselineSide;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measureBaseline(n: number): Promise<BaselineSide> {
  const agentsJs = AgentsJsPool.start({ idle: n, log });
  try {
    const jobs = await agentsJs.waitJobs(n, 60_000 + n * 5_000);
    await sleep(SETTLE_MS);
    const inference = agentsJs.procs.find((p) => p.kind === 'inference');
    return {
      jobs: sumMemory(jobs.map((j) => j.pid)),
      server: procMemory(agentsJs.pid),
      inference: inference ? procMemory(inference.pid) : undefined,
      initMs: jobs.map((j) => j.initMs),
    };
  } finally {
    await agentsJs.stop();
  }
}

/**
 * A fresh pool with ONE worker process for N sessions: memory idle, then with N sessions after
 * AUDIO_MS of speech (so every session is the same age: agents-js keeps a call's input frames
 * until it ends, see the doc).
 */
async function measurePool(nats: string, n: number, probe: MemoryProbe): Promise<PoolSide> {
  const bench = await startBenchPool({
    nats,
    name: `density${n}`,
    workers: 1,
    capacity: n,
    workerEnv: probe.env(process.env.OPENRTC_BENCH_HEAP_SNAPSHOT === '1'),
  });
  try {
    const [worker] = await waitReady(bench.client, 1);
    if (!worker?.pid) throw new Error('the worker reported no pid');
    await sleep(SETTLE_MS);
    const idle = procMemory(worker.pid);
    const idleHeap = await probe.read(worker.pid);
    const watch = new InspectWatch(bench.client, { speech: true });
    const placed: string[] = [];
    while (placed.length < n) {
      const batch = Array.from({ length: Math.min(10, n - placed.length) }, (_, k) => placed.length + k);
      const ok = await Promise.all(
        batch.map((j) =>
          bench.client.dispatch({
            agent: j % 2 ? 'dental' : 'restaurant',
            job: { room: `density-${n}-${j}` },
            audio: {
              kind: 'wav',
              path: j % 2 ? AUDIO.dental : AUDIO.restaurant,
              realtime: true,
              loops: 1000,
            },
          }),
        ),
      );
      placed.push(...ok.map((p) => p.session));
    }
    await watch.until('every session active', () => placed.every((s) => watch.state(s, 'active')), 60_000);
    const activeAt = performance.now();
    await sleep(AUDIO_MS);
    const loaded = procMemory(worker.pid);
    const loadedHeap = await probe.read(worker.pid);
    // The probe ran a full GC: what is left is live data plus what V8 keeps mapped.
    const afterGc = procMemory(worker.pid);
    log.info({ n, pss: loaded, afterGc, heap: loadedHeap, idleHeap }, 'worker memory');
    const ended = placed.filter((s) => watch.state(s, 'failed') || watch.state(s, 'closed'));
    if (ended.length) throw new Error(`${ended.length} sessions ended before memory was read`);
    const heard = new Set(watch.speech.filter((e) => e.arrived >= activeAt).map((e) => e.session));
    watch.stop();
    return {
      idle,
      loaded,
      afterGc,
      idleHeap,
      loadedHeap,
      sessions: n,
      speechOk: placed.filter((s) => heard.has(s)).length,
    };
  } finally {
    await bench.stop();
  }
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const probe = new MemoryProbe();
  const runs: DensityRun[] = [];
  try {
    for (const n of SIZES) {
      log.info({ n }, 'pool: N sessions in one worker process');
      const pool = await measurePool(nats.url, n, probe);
      log.info({ n }, 'baseline: agents-js AgentServer with N prewarmed job processes');
      const baseline = await measureBaseline(n);
      runs.push({ n, pool, baseline });
      log.info(
        {
          n,
          poolPssPerSession: round((pool.loaded.pss_mb - pool.idle.pss_mb) / n, 2),
          baselinePssPerSession: round(baseline.jobs.pss_mb / n),
          speechOk: pool.speechOk,
        },
        'measured',
      );
    }
  } finally {
    await nats.stop();
    if (process.env.OPENRTC_BENCH_HEAP_SNAPSHOT === '1') log.info({ dir: probe.dir }, 'heap snapshots kept');
    else probe.dispose();
  }
  const result = summarize(runs);
  emit(result);
  const path = writeDoc(mode, 'density', densityDoc(result, { audioMs: AUDIO_MS, settleMs: SETTLE_MS }));
  if (path) log.info({ path }, 'table written');
}

/** The JSON line: the largest N's figures, plus every N's. */
function summarize(runs: DensityRun[]) {
  const rows = runs.map(({ n, pool, baseline }) => {
    const poolPer = (pool.loaded.pss_mb - pool.idle.pss_mb) / n;
    const basePer = baseline.jobs.pss_mb / n;
    return {
      n,
      pool: {
        rss_mb: round(pool.loaded.rss_mb),
        pss_mb: round(pool.loaded.pss_mb),
        pss_mb_idle: round(pool.idle.pss_mb),
        pss_mb_per_session: round(poolPer, 2),
        rss_mb_per_session: round((pool.loaded.rss_mb - pool.idle.rss_mb) / n, 2),
        pss_mb_per_session_after_gc: round((pool.afterGc.pss_mb - pool.idle.pss_mb) / n, 2),
        sessions_hearing_speech: pool.speechOk,
        // After a full GC in the worker: live JS heap and off-heap memory per session.
        heap_live_mb_per_session: round(
          (pool.loadedHeap.after.heapUsed - pool.idleHeap.after.heapUsed) / n,
          2,
        ),
        external_mb_per_session: round(
          (pool.loadedHeap.after.external - pool.idleHeap.after.external) / n,
          2,
        ),
        garbage_mb_at_reading: round(pool.loadedHeap.before.heapUsed - pool.loadedHeap.after.heapUsed, 1),
      },
      process_per_job: {
        rss_mb: round(baseline.jobs.rss_mb),
        pss_mb: round(baseline.jobs.pss_mb),
        pss_mb_per_session: round(basePer, 1),
        rss_mb_per_session: round(baseline.jobs.rss_mb / n, 1),
        fixed_pss_mb: round(baseline.server.pss_mb + (baseline.inference?.pss_mb ?? 0)),
      },
      ratio_pss_per_session: round(basePer / Math.max(poolPer, 0.001), 1),
    };
  });
  const last = rows.at(-1);
  const first = runs[0];
  const final = runs.at(-1);
  if (!last || !first || !final) throw new Error('no runs');
  const slope =
    final.n > first.n
      ? (final.pool.loaded.pss_mb - first.pool.loaded.pss_mb) / (final.n - first.n)
      : Number.NaN;
  return {
    bench: 'density',
    mode,
    n: last.n,
    pool: last.pool,
    process_per_job: last.process_per_job,
    ratio_pss_per_session: last.ratio_pss_per_session,
    target_ratio: 50,
    pool_pss_mb_slope: round(slope, 2),
    audio_s: AUDIO_MS / 1000,
    runs: rows,
    hardware: hardware(),
  };
}

runBench(main);
