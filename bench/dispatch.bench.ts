/**
 * dispatch: from a client's dispatch request to the session reaching `active`, over the full path
 * (client → NATS → supervisor → NATS → worker → session machine → NATS → client), on 2 warm
 * workers, local transport with a short silence input, offline providers; a few in flight at a
 * time. Baseline, in the same run: agents-js's cold path, fork → initializeResponse of a job
 * process whose prewarm loads Silero, timed inside agents-js's real AgentServer/ProcPool.
 * Prints one JSON line; in full mode writes docs/benchmarks/dispatch.md.
 *
 *   npm run bench:dispatch [-- --quick | --smoke]
 */
import { randomUUID } from 'node:crypto';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { AgentsJsPool } from './lib/agents-js.ts';
import { dispatchDoc, type Hops } from './lib/dispatch-doc.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { InspectWatch, startBenchPool, waitReady } from './lib/pool.ts';
import { benchLog, emit, runBench, writeDoc } from './lib/report.ts';
import { max, median, percentile, round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('dispatch');
const N = byMode(mode, { full: 1000, quick: 200, smoke: 20 });
const WARMUP = byMode(mode, { full: 40, quick: 20, smoke: 4 });
const IN_FLIGHT = 4;
const COLD_PROCS = byMode(mode, { full: 10, quick: 3, smoke: 1 });
const INPUT = { kind: 'silence' as const, durationMs: 200 };

interface Sample {
  ms: number;
  hops: Hops;
}

/** One dispatch, timed from the request to the client seeing `active`. */
async function one(
  bench: Awaited<ReturnType<typeof startBenchPool>>,
  watch: InspectWatch,
  i: number,
): Promise<Sample> {
  const room = `${i % 2 ? 'dental' : 'restaurant'}-${randomUUID().slice(0, 8)}`;
  const sentTs = Date.now();
  const t0 = performance.now();
  const placed = await bench.client.dispatch({ job: { room }, audio: INPUT });
  const okAt = performance.now();
  const active = await watch.until(
    `session ${placed.session} active`,
    () => watch.state(placed.session, 'active') ?? watch.state(placed.session, 'failed'),
    30_000,
  );
  if (!watch.state(placed.session, 'active'))
    throw new Error(`session ${placed.session} failed: ${active.error}`);
  // Measured; end it now, so only a few dozen sessions live at once (a 200 ms silence input would
  // otherwise hold its slot ~5.7 s: VoiceSession waits out its 5 s VAD drain, see the doc).
  void bench.client.bus
    .request(
      bench.client.subjects.workerCmd(placed.worker),
      bench.client.bus.make('session.cancel', { session: placed.session, reason: 'measured' }),
      5000,
    )
    .catch(() => {});
  const ts = (state: string) => watch.state(placed.session, state)?.ts ?? Number.NaN;
  const greeting = ts('greeting');
  return {
    ms: active.at - t0,
    hops: {
      dispatchOk: okAt - t0,
      toWorker: ts('prewarming') - sentTs,
      prewarm: ts('connecting') - ts('prewarming'),
      connect: (Number.isNaN(greeting) ? active.ts : greeting) - ts('connecting'),
      greet: Number.isNaN(greeting) ? 0 : active.ts - greeting,
      toClient: active.at - t0 - (active.ts - sentTs),
    },
  };
}

/** Runs `count` dispatches, IN_FLIGHT at a time. */
async function run(bench: Awaited<ReturnType<typeof startBenchPool>>, watch: InspectWatch, count: number) {
  const out: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) out.push(await one(bench, watch, next++));
    }),
  );
  return out;
}

async function poolSide() {
  const nats = await startNatsServer();
  const bench = await startBenchPool({ nats: nats.url, name: 'dispatch', workers: 2, capacity: 50 });
  const watch = new InspectWatch(bench.client);
  try {
    await waitReady(bench.client, 2);
    await run(bench, watch, WARMUP);
    log.info({ n: N, inFlight: IN_FLIGHT }, 'measuring dispatch → active');
    const samples = await run(bench, watch, N);
    const workers = new Set([...watch.sessions.values()].map((s) => s.worker));
    return { samples, workers: workers.size };
  } finally {
    watch.stop();
    await bench.stop();
    await nats.stop();
  }
}

async function coldSide() {
  log.info({ procs: COLD_PROCS }, 'agents-js cold path: fork → initializeResponse');
  const agentsJs = AgentsJsPool.start({ idle: COLD_PROCS, log });
  try {
    return (await agentsJs.waitJobs(COLD_PROCS, 60_000 + COLD_PROCS * 5_000)).map((p) => p.initMs);
  } finally {
    await agentsJs.stop();
  }
}

async function main(): Promise<void> {
  const { samples, workers } = await poolSide();
  const cold = await coldSide();
  const ms = samples.map((s) => s.ms);
  const p99 = percentile(ms, 99);
  const hop = (k: keyof Hops) => round(median(samples.map((s) => s.hops[k])), 2);
  const result = {
    bench: 'dispatch',
    mode,
    n: samples.length,
    in_flight: IN_FLIGHT,
    workers,
    p50_ms: round(percentile(ms, 50), 2),
    p90_ms: round(percentile(ms, 90), 2),
    p99_ms: round(p99, 2),
    max_ms: round(max(ms), 2),
    target_p99_ms: 10,
    process_per_job_cold_ms: round(median(cold)),
    process_per_job_cold_max_ms: round(max(cold)),
    process_per_job_cold_runs: cold.length,
    ratio_cold_to_p99: round(median(cold) / p99, 1),
    hops_median_ms: {
      dispatch_ok: hop('dispatchOk'),
      to_worker: hop('toWorker'),
      prewarm: hop('prewarm'),
      connect: hop('connect'),
      greet: hop('greet'),
      to_client: hop('toClient'),
    },
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(mode, 'dispatch', dispatchDoc(result, samples, cold));
  if (path) log.info({ path }, 'table written');
}

runBench(main);
