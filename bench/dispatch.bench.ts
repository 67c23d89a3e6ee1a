/**
 * dispatch: from a client's dispatch request to the session reaching `active`, over the full path
 * (client → NATS → supervisor → NATS → worker → session machine → NATS → client), on 2 warm
 * workers, local transport with a short silence input, offline providers: one at a time (`p99_ms`)
 * and 4 in flight (`inflight_p99_ms`). Baseline, in the same run, agents-js's real
 * AgentServer/ProcPool registered with the LiveKit protocol double
 * (test/support/livekit-server-double.ts):
 *  - warm path: the double dispatches a job, an idle prewarmed process takes it; timed from the
 *    dispatch to the job's room join reaching the double (its entry's `ctx.connect()`: a session
 *    cannot be live before it), one job at a time, each once the pool has an idle process again;
 *  - cold path: fork → initializeResponse of a job process whose prewarm loads Silero.
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/dispatch.md.
 *
 *   npm run bench:dispatch [-- --quick | --smoke]
 */
import { fork } from 'node:child_process';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { startLiveKitServerDouble } from '../test/support/livekit-server-double.ts';
import type { ClientResult, Sample } from './dispatch/client.ts';
import { AgentsJsPool } from './lib/agents-js.ts';
import { dispatchDoc, type Hops, joined as joinedMs } from './lib/dispatch-doc.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { type BenchPool, startBenchPool, waitReady } from './lib/pool.ts';
import { benchLog, emit, ROOT, runBench, writeDoc } from './lib/report.ts';
import { max, median, percentile, round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('dispatch');
const N = byMode(mode, { full: 1000, quick: 200, smoke: 20 });
const WARMUP = byMode(mode, { full: 40, quick: 20, smoke: 4 });
const IN_FLIGHT = 4;
/** A second pass, one at a time: the path's latency without queueing behind other dispatches. */
const N_SEQUENTIAL = Math.ceil(N / 4);
/** Jobs the agents-js baseline takes on its warm path, one at a time. */
const WARM_JOBS = byMode(mode, { full: 20, quick: 6, smoke: 1 });
const IDLE = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Times, in this process, the supervisor's own work: each dispatch, and each event its machine takes. */
function timeSupervisor(bench: BenchPool): { dispatchMs: number[]; eventMs: number[] } {
  const svc = bench.pool.service;
  const out = { dispatchMs: [] as number[], eventMs: [] as number[] };
  const dispatch = svc.dispatch.bind(svc);
  svc.dispatch = (body, id) => {
    const t = performance.now();
    try {
      return dispatch(body, id);
    } finally {
      out.dispatchMs.push(performance.now() - t);
    }
  };
  const send = svc.actor.send.bind(svc.actor);
  svc.actor.send = (event) => {
    const t = performance.now();
    send(event);
    out.eventMs.push(performance.now() - t);
  };
  return out;
}

async function poolSide(): Promise<ClientResult & { supervisor: ReturnType<typeof timeSupervisor> }> {
  const nats = await startNatsServer();
  const bench = await startBenchPool({ nats: nats.url, name: 'dispatch', workers: 2, capacity: 50 });
  try {
    await waitReady(bench.client, 2);
    const supervisor = timeSupervisor(bench);
    log.info({ n: N, inFlight: IN_FLIGHT, sequential: N_SEQUENTIAL }, 'measuring dispatch → active');
    const child = fork(
      `${ROOT}bench/dispatch/client.ts`,
      [nats.url, 'dispatch', N, WARMUP, N_SEQUENTIAL, IN_FLIGHT].map(String),
      { stdio: ['ignore', 2, 'inherit', 'ipc'] },
    );
    return await new Promise((resolve, reject) => {
      child.once('message', (m) => resolve({ ...(m as ClientResult), supervisor }));
      child.once('exit', (code) => reject(new Error(`the dispatch client exited with ${code}`)));
    });
  } finally {
    await bench.stop();
    await nats.stop();
  }
}

/** agents-js: the cold path (fork → initialized) and the warm path (dispatch → room join). */
async function agentsJsSide(): Promise<{ cold: number[]; warm: number[] }> {
  log.info({ idle: IDLE, jobs: WARM_JOBS }, 'agents-js: warm path (dispatch → join) and cold path');
  const double = await startLiveKitServerDouble({ seed: 1 });
  const agentName = 'baseline';
  const agentsJs = AgentsJsPool.start({
    idle: IDLE,
    log,
    livekit: { url: double.url, apiKey: double.apiKey, apiSecret: double.apiSecret, agentName },
  });
  const warm: number[] = [];
  try {
    await agentsJs.waitJobs(IDLE, 60_000 + IDLE * 5_000);
    const deadline = Date.now() + 30_000;
    while (!double.worker(agentName)?.workerId) {
      if (Date.now() > deadline) throw new Error('agents-js never registered with the LiveKit double');
      await sleep(20);
    }
    for (let k = 0; k < WARM_JOBS; k++) {
      // Every job finds IDLE prewarmed processes: the one the previous job took has been replaced.
      await agentsJs.waitJobs(IDLE + k, 60_000);
      await sleep(200);
      const room = `warm-${k}`;
      const t0 = performance.now();
      const [outcome] = await double.dispatch({ room, agentName });
      if (!outcome?.ok) throw new Error(`the double could not place job ${k}: ${JSON.stringify(outcome)}`);
      while (!double.joins.some((j) => j.room === room)) {
        if (performance.now() - t0 > 30_000) throw new Error(`job ${k} never joined its room`);
        await sleep(1);
      }
      warm.push(performance.now() - t0);
    }
    const cold = agentsJs.jobs().map((p) => p.initMs);
    return { cold, warm };
  } finally {
    await agentsJs.stop();
    await double.stop();
  }
}

async function main(): Promise<void> {
  const { samples, sequential, workers, wallMs, workerCpuMs, supervisor } = await poolSide();
  const { cold, warm } = await agentsJsSide();
  const ms = samples.map((s) => s.ms);
  const seqMs = sequential.map((s) => s.ms);
  const p99 = percentile(ms, 99);
  const hops = (of: Sample[], summary: (xs: number[]) => number = median) => {
    const hop = (k: keyof Hops) => round(summary(of.map((s) => s.hops[k])), 2);
    return {
      dispatch_ok: hop('dispatchOk'),
      to_worker: hop('toWorker'),
      prewarm: hop('prewarm'),
      connect: hop('connect'),
      greet: hop('greet'),
      to_client: hop('toClient'),
    };
  };
  // The slowest 1 %: where the tail's time goes, hop by hop (mean over those samples).
  const tail = (of: Sample[]) => {
    const cut = percentile(
      of.map((s) => s.ms),
      99,
    );
    return hops(
      of.filter((s) => s.ms >= cut),
      (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
    );
  };
  const seqJoined = sequential.map(joinedMs);
  const result = {
    bench: 'dispatch',
    mode,
    n: samples.length,
    warmup: WARMUP,
    in_flight: IN_FLIGHT,
    workers,
    p50_ms: round(percentile(seqMs, 50), 2),
    p99_ms: round(percentile(seqMs, 99), 2),
    inflight_p50_ms: round(percentile(ms, 50), 2),
    inflight_p90_ms: round(percentile(ms, 90), 2),
    inflight_p99_ms: round(p99, 2),
    inflight_max_ms: round(max(ms), 2),
    target_p99_ms: 10,
    joined_p50_ms: round(percentile(seqJoined, 50), 2),
    joined_p99_ms: round(percentile(seqJoined, 99), 2),
    inflight_joined_p99_ms: round(percentile(samples.map(joinedMs), 99), 2),
    agents_js_warm_p50_ms: round(percentile(warm, 50), 1),
    agents_js_warm_p99_ms: round(percentile(warm, 99), 1),
    agents_js_warm_runs: warm.length,
    ratio_warm_p50_to_inflight_p99: round(percentile(warm, 50) / p99, 2),
    sessions_per_s: round((samples.length / wallMs) * 1000),
    worker_cpu_ms_per_session: round(workerCpuMs / samples.length, 2),
    supervisor: {
      dispatch_ms_p50: round(percentile(supervisor.dispatchMs, 50), 3),
      dispatch_ms_p99: round(percentile(supervisor.dispatchMs, 99), 3),
      event_ms_p50: round(percentile(supervisor.eventMs, 50), 3),
      event_ms_p99: round(percentile(supervisor.eventMs, 99), 3),
      events_per_session: round(supervisor.eventMs.length / (samples.length + sequential.length + WARMUP), 1),
    },
    sequential: {
      n: sequential.length,
      p50_ms: round(percentile(seqMs, 50), 2),
      p99_ms: round(percentile(seqMs, 99), 2),
      max_ms: round(max(seqMs), 2),
      hops_median_ms: hops(sequential),
      tail_hops_mean_ms: tail(sequential),
    },
    process_per_job_cold_ms: round(median(cold)),
    process_per_job_cold_max_ms: round(max(cold)),
    process_per_job_cold_runs: cold.length,
    ratio_cold_to_p99: round(median(cold) / percentile(seqMs, 99), 1),
    hops_median_ms: hops(samples),
    tail_hops_mean_ms: tail(samples),
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(mode, 'dispatch', dispatchDoc(result, samples, sequential, cold, warm));
  if (path) log.info({ path }, 'table written');
}

runBench(main);
