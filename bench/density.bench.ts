/**
 * density: memory per live voice session, both sides running REAL sessions of the same agent on
 * the same audio through the same local audio input (src/runtime/voice/local-transport.ts):
 *  - pool: N sessions of the restaurant agent in ONE worker process of a real pool (one shared
 *    Silero), its supervisor (a process of its own, `openrtc start`, which starts the worker; this
 *    process only dispatches and watches, as a client) and the nats-server;
 *  - agents-js: its own AgentServer registered with the LiveKit protocol double
 *    (test/support/livekit-server-double.ts), which dispatches N jobs; each runs in a prewarmed
 *    process of its own (bench/baseline/session-agent.mjs: Silero, FakeSTT, FakeLLM as the
 *    restaurant agent has them).
 * For each call length (30 s and 180 s of audio; shorter in smoke) memory is read once every
 * session has been fed that much audio. The audio is fast-fed (as fast as the VAD takes it, 2 s
 * lead at most on our side): memory depends on how much audio a call has had, not on the wall
 * clock. N is the sustainable N the capacity benchmark found in the same suite run
 * (OPENRTC_BENCH_DENSITY_N, set by bench/run.ts), else a per-mode default.
 *  - whole_machine_ratio: (agents-js server + job processes + inference process) / N against
 *    (supervisor + worker + nats-server) / N, PSS;
 *  - ratio_pss_per_session: the marginal figure, job processes / N against (worker with N sessions
 *    − idle worker) / N.
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/density.md.
 *
 *   npm run bench:density [-- --quick | --smoke]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PoolClient } from '../src/runtime/client.ts';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { RUN_FROM } from '../src/runtime/run-from.ts';
import { startLiveKitServerDouble } from '../test/support/livekit-server-double.ts';
import { AgentsJsPool, bundleLocalTransport, SESSION_AGENT } from './lib/agents-js.ts';
import { type DensityRow, densityDoc } from './lib/density-doc.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { AGENTS_DIR, AUDIO, InspectWatch, waitReady } from './lib/pool.ts';
import { type ProcMemory, procCpuMs, procMemory, sumMemory } from './lib/proc.ts';
import { benchLog, emit, ROOT, runBench, writeDoc } from './lib/report.ts';
import { round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('density');
const fromCapacity = Number(process.env.OPENRTC_BENCH_DENSITY_N);
const N =
  Number.isInteger(fromCapacity) && fromCapacity > 0
    ? fromCapacity
    : byMode(mode, { full: 40, quick: 10, smoke: 2 });
const CALLS_S = byMode(mode, { full: [30, 180], quick: [30, 180], smoke: [10] });
/**
 * The longest call runs once more with `--heap-growth HEAP_GROWTH` on the pool's workers and the
 * same V8 setting preloaded into every agents-js process (bench/baseline/heap-growth.cjs): the
 * memory the setting saves on each side, and the worker CPU it costs, in the same run.
 */
const HEAP_GROWTH = 50;
/** restaurant.wav is 8.3 s: enough loops that no call ends before it is measured. */
const LOOPS = 10_000;
const SETTLE_MS = byMode(mode, { full: 3_000, quick: 1_000, smoke: 500 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Side {
  /** Every process of the side, PSS summed. */
  whole: ProcMemory;
  /** The processes that exist per session (agents-js: the job processes; pool: worker growth). */
  perSessionMb: number;
  parts: Record<string, number>;
  fedSMin: number;
}

/** A pass of both sides: V8's own heap growth, or `heapGrowth` percent on every process. */
interface Pass {
  callS: number;
  heapGrowth?: number;
}

/**
 * The pool's supervisor as a process of its own: the real `openrtc start` command, one worker, no
 * spare, in the mode this benchmark runs (its workers the same). Its output goes to stderr: stdout
 * is kept for the JSON line.
 */
function startSupervisor(nats: string, pool: string, heapGrowth: number | undefined): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      `${ROOT}bin/openrtc.js`,
      'start',
      AGENTS_DIR,
      '--nats',
      nats,
      '--pool',
      pool,
      '--workers',
      '1',
      '--spares',
      '0',
      '--capacity',
      String(N),
      '--drain-timeout',
      '2000',
      ...(heapGrowth !== undefined ? ['--heap-growth', String(heapGrowth)] : []),
      '--json-logs',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        OPENRTC_RUN_FROM: RUN_FROM,
        OPENRTC_LOG_LEVEL: process.env.OPENRTC_LOG_LEVEL ?? 'warn',
        OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'silent',
      },
    },
  );
  child.stdout?.pipe(process.stderr);
  child.stderr?.pipe(process.stderr);
  return child;
}

/** SIGTERM (the supervisor drains and stops its worker), SIGKILL if it has not exited in 20 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function poolSide({ callS, heapGrowth }: Pass): Promise<Side> {
  const nats = await startNatsServer();
  const name = `density${callS}${heapGrowth !== undefined ? `g${heapGrowth}` : ''}`;
  const supervisor = startSupervisor(nats.url, name, heapGrowth);
  const client = await PoolClient.connect({ url: nats.url, pool: name, log, id: `bench-${name}` });
  try {
    if (!supervisor.pid) throw new Error('the supervisor process did not start');
    const [worker] = await waitReady(client, 1, 120_000);
    if (!worker?.pid) throw new Error('the worker reported no pid');
    await sleep(SETTLE_MS);
    const idle = procMemory(worker.pid);
    const cpu0 = procCpuMs(worker.pid);
    const watch = new InspectWatch(client, { speech: true });
    const placed: string[] = [];
    while (placed.length < N) {
      const batch = Array.from({ length: Math.min(10, N - placed.length) }, (_, k) => placed.length + k);
      const ok = await Promise.all(
        batch.map((j) =>
          client.dispatch({
            agent: 'restaurant',
            job: { room: `density-${callS}-${j}` },
            audio: { kind: 'wav', path: AUDIO.restaurant, realtime: false, loops: LOOPS },
          }),
        ),
      );
      placed.push(...ok.map((p) => p.session));
    }
    // A session's last speech event says how far into its input it has got, at least (fed audio
    // runs up to a loop further: the pool side is read with more audio than agents-js, not less).
    const reached = () =>
      placed.map((s) => Math.max(0, ...watch.speech.filter((e) => e.session === s).map((e) => e.atMs)));
    await watch.until(
      `every session fed ${callS} s`,
      () => reached().every((ms) => ms >= callS * 1000),
      60_000 + callS * 1000 * 2,
    );
    const fedSMin = Math.min(...reached()) / 1000;
    const ended = placed.filter((s) => watch.state(s, 'failed') || watch.state(s, 'closed'));
    if (ended.length) throw new Error(`${ended.length} sessions ended before memory was read`);
    const w = procMemory(worker.pid);
    const cpuMs = procCpuMs(worker.pid) - cpu0;
    const audioS = reached().reduce((sum, ms) => sum + ms / 1000, 0);
    const sup = procMemory(supervisor.pid);
    const n = procMemory(nats.pid);
    watch.stop();
    log.info({ callS, worker: w, idle, supervisor: sup, nats: n, fedSMin }, 'pool memory');
    return {
      whole: sumMemory([worker.pid, supervisor.pid, nats.pid]),
      perSessionMb: (w.pss_mb - idle.pss_mb) / N,
      parts: {
        supervisor_pss_mb: round(sup.pss_mb),
        worker_pss_mb: round(w.pss_mb),
        worker_idle_pss_mb: round(idle.pss_mb),
        nats_pss_mb: round(n.pss_mb),
        // The worker's CPU (all threads) from idle to the reading, per second of audio its sessions
        // had heard by then (each session's last speech event: a lower bound).
        worker_cpu_ms_per_audio_s: round(cpuMs / audioS, 2),
      },
      fedSMin,
    };
  } finally {
    await client.close();
    await stopProcess(supervisor);
    await nats.stop();
  }
}

async function agentsJsSide({ callS, heapGrowth }: Pass, transport: string): Promise<Side> {
  const double = await startLiveKitServerDouble({ seed: 1 });
  const statusDir = mkdtempSync(join(tmpdir(), 'openrtc-density-'));
  const agentName = 'baseline';
  const agentsJs = AgentsJsPool.start({
    idle: N,
    log,
    agent: SESSION_AGENT,
    livekit: { url: double.url, apiKey: double.apiKey, apiSecret: double.apiSecret, agentName },
    env: {
      OPENRTC_BENCH_LOCAL_TRANSPORT: transport,
      OPENRTC_BENCH_STATUS_DIR: statusDir,
      ...(heapGrowth !== undefined
        ? {
            NODE_OPTIONS: [process.env.NODE_OPTIONS, `--require ${ROOT}bench/baseline/heap-growth.cjs`]
              .filter(Boolean)
              .join(' '),
            OPENRTC_BENCH_HEAP_GROWTH: String(heapGrowth),
          }
        : {}),
    },
  });
  try {
    await agentsJs.waitJobs(N, 60_000 + N * 5_000);
    const deadline = Date.now() + 30_000;
    while (!double.worker(agentName)?.workerId) {
      if (Date.now() > deadline) throw new Error('agents-js never registered with the LiveKit double');
      await sleep(20);
    }
    for (let j = 0; j < N; j++) {
      const [outcome] = await double.dispatch({
        room: `density-${callS}-${j}`,
        agentName,
        metadata: JSON.stringify({ path: AUDIO.restaurant, realtime: false, loops: LOOPS }),
      });
      if (!outcome?.ok) throw new Error(`the double could not place job ${j}: ${JSON.stringify(outcome)}`);
    }
    type Status = { pid: number; fedMs: number; ended: boolean };
    const statuses = (): Status[] =>
      readdirSync(statusDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => {
          try {
            return JSON.parse(readFileSync(join(statusDir, f), 'utf8')) as Status;
          } catch {
            return { pid: 0, fedMs: 0, ended: false }; // unreadable: counts as not fed yet
          }
        });
    const until = Date.now() + 60_000 + callS * 1000 * 2;
    let s: Status[];
    for (;;) {
      s = statuses();
      if (s.length === N && s.every((x) => x.fedMs >= callS * 1000)) break;
      if (Date.now() > until)
        throw new Error(`agents-js sessions: ${s.length}/${N} live, fed ${s.map((x) => x.fedMs).join(',')}`);
      await sleep(100);
    }
    if (s.some((x) => x.ended)) throw new Error('an agents-js call ended before memory was read');
    const jobPids = s.map((x) => x.pid);
    const inference = agentsJs.procs.filter((p) => p.kind === 'inference').map((p) => p.pid);
    const jobs = sumMemory(jobPids);
    const server = procMemory(agentsJs.pid);
    const inf = sumMemory(inference.filter((p) => existsSync(`/proc/${p}`)));
    log.info({ callS, jobs, server, inference: inf }, 'agents-js memory');
    const whole = sumMemory([agentsJs.pid, ...jobPids, ...inference.filter((p) => existsSync(`/proc/${p}`))]);
    return {
      whole,
      perSessionMb: jobs.pss_mb / N,
      parts: {
        server_pss_mb: round(server.pss_mb),
        jobs_pss_mb: round(jobs.pss_mb),
        inference_pss_mb: round(inf.pss_mb),
      },
      fedSMin: Math.min(...s.map((x) => x.fedMs)) / 1000,
    };
  } finally {
    await agentsJs.stop();
    await double.stop();
    rmSync(statusDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const transport = bundleLocalTransport();
  const rows: DensityRow[] = [];
  const longest = CALLS_S.at(-1) as number;
  const passes: Pass[] = [
    ...CALLS_S.map((callS) => ({ callS })),
    { callS: longest, heapGrowth: HEAP_GROWTH },
  ];
  for (const pass of passes) {
    const { callS, heapGrowth } = pass;
    log.info({ n: N, callS, heapGrowth }, 'pool: N live sessions in one worker process');
    const pool = await poolSide(pass);
    log.info({ n: N, callS, heapGrowth }, 'agents-js: N live sessions, a process each');
    const base = await agentsJsSide(pass, transport);
    const row: DensityRow = {
      call_s: callS,
      ...(heapGrowth !== undefined ? { heap_growth: heapGrowth } : {}),
      n: N,
      pool: {
        whole_pss_mb: round(pool.whole.pss_mb),
        whole_pss_mb_per_session: round(pool.whole.pss_mb / N, 2),
        pss_mb_per_session: round(pool.perSessionMb, 2),
        fed_s_min: round(pool.fedSMin),
        ...pool.parts,
      },
      process_per_job: {
        whole_pss_mb: round(base.whole.pss_mb),
        whole_pss_mb_per_session: round(base.whole.pss_mb / N, 1),
        pss_mb_per_session: round(base.perSessionMb, 1),
        fed_s_min: round(base.fedSMin),
        ...base.parts,
      },
      whole_machine_ratio: round(base.whole.pss_mb / pool.whole.pss_mb, 1),
      ratio_pss_per_session: round(base.perSessionMb / Math.max(pool.perSessionMb, 0.001), 1),
    };
    log.info(row, 'measured');
    rows.push(row);
  }
  const last = rows.findLast((r) => r.heap_growth === undefined);
  const lean = rows.find((r) => r.heap_growth !== undefined);
  if (!last || !lean) throw new Error('no runs');
  const cpu = (r: DensityRow) => r.pool.worker_cpu_ms_per_audio_s as number;
  const result = {
    bench: 'density',
    mode,
    n: N,
    n_from_capacity: N === fromCapacity,
    ...(N === fromCapacity && process.env.OPENRTC_BENCH_DENSITY_N_FROM
      ? { n_from: process.env.OPENRTC_BENCH_DENSITY_N_FROM }
      : {}),
    call_s: last.call_s,
    fast_feed: true,
    whole_machine_ratio: last.whole_machine_ratio,
    ratio_pss_per_session: last.ratio_pss_per_session,
    pool: last.pool,
    process_per_job: last.process_per_job,
    heap_growth: {
      percent: HEAP_GROWTH,
      whole_machine_ratio: lean.whole_machine_ratio,
      ratio_pss_per_session: lean.ratio_pss_per_session,
      pool_pss_mb_per_session: lean.pool.pss_mb_per_session,
      // The worker CPU the setting costs: its CPU per audio second over the default's, same call.
      worker_cpu_ratio: round(cpu(lean) / cpu(last), 2),
    },
    target_whole_machine_ratio: 25,
    target_ratio: 50,
    runs: rows,
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(mode, 'density', densityDoc(result));
  if (path) log.info({ path }, 'table written');
}

runBench(main);
