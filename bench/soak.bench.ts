/**
 * soak: sessions churned through a real pool of 2 worker processes (dispatch, active, cancel,
 * ended; `IN_FLIGHT` at a time, from a client process of its own), with the heap after a full GC of
 * the supervisor (this process) and of each worker (bench/profile/memory-probe.cjs, by SIGUSR2)
 * read at checkpoints. The growth per 1,000 sessions is the least-squares slope over the
 * checkpoints after a warm-up churn (lazy initialisation is not growth).
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/soak.md.
 *
 *   npx tsx bench/soak.bench.ts [--quick | --smoke]
 */
import { fork } from 'node:child_process';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ENDED_RECORD_LIMIT } from '../src/protocol/index.ts';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { hardware } from './lib/hardware.ts';
import { MemoryProbe } from './lib/memory-probe.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { startBenchPool, waitReady } from './lib/pool.ts';
import { benchLog, emit, mdTable, ROOT, runBench, writeDoc } from './lib/report.ts';
import { round } from './lib/stats.ts';
import type { ChurnResult } from './soak/client.ts';

const mode = benchMode();
const log = benchLog('soak');
const SESSIONS = byMode(mode, { full: 5000, quick: 500, smoke: 50 });
const CHECKPOINTS = byMode(mode, { full: 10, quick: 5, smoke: 2 });
/**
 * Before the first checkpoint, fill the bounded records of ended sessions (a worker keeps its last
 * ENDED_RECORD_LIMIT, the supervisor its last 500): filling them is bounded, not growth.
 */
const WARMUP = byMode(mode, { full: ENDED_RECORD_LIMIT + 100, quick: ENDED_RECORD_LIMIT + 100, smoke: 10 });
const IN_FLIGHT = 8;
const WORKERS = 2;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** This process's heap after a full GC, in MB. */
function supervisorHeapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Checkpoint {
  sessions: number;
  supervisor_mb: number;
  workers_mb: number[];
  ms: number;
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const probe = new MemoryProbe();
  const bench = await startBenchPool({
    nats: nats.url,
    name: 'soak',
    workers: WORKERS,
    capacity: 2 * IN_FLIGHT,
    workerEnv: probe.env(),
  });
  const child = fork(`${ROOT}bench/soak/client.ts`, [nats.url, 'soak', String(IN_FLIGHT)], {
    stdio: ['ignore', 2, 'inherit', 'ipc'],
  });
  const replies: ((m: ChurnResult) => void)[] = [];
  child.on('message', (m: ChurnResult | { ready: true }) => {
    if ('done' in m) replies.shift()?.(m);
  });
  const churn = (k: number) =>
    new Promise<ChurnResult>((resolve, reject) => {
      replies.push(resolve);
      child.once('exit', (code) => reject(new Error(`the soak client exited with ${code}`)));
      child.send({ churn: k });
    });
  const checkpoints: Checkpoint[] = [];
  let ok = 0;
  let failed = 0;
  try {
    const workers = await waitReady(bench.client, WORKERS);
    const pids = workers.map((w) => w.pid).filter((p): p is number => typeof p === 'number');
    const read = async (sessions: number, ms: number) => {
      const cp: Checkpoint = {
        sessions,
        supervisor_mb: supervisorHeapMb(),
        workers_mb: (await Promise.all(pids.map((p) => probe.read(p)))).map((r) => r.after.heapUsed),
        ms,
      };
      checkpoints.push(cp);
      log.info(cp, 'soak checkpoint');
    };
    const warm = await churn(WARMUP);
    if (warm.ok === 0) throw new Error('no warm-up session reached active');
    await read(0, warm.ms);
    const step = Math.ceil(SESSIONS / CHECKPOINTS);
    for (let done = 0; done < SESSIONS; ) {
      const k = Math.min(step, SESSIONS - done);
      const r = await churn(k);
      ok += r.ok;
      failed += r.failed;
      done += k;
      await read(done, r.ms);
    }
    const status = await bench.client.status();
    const restarted = status.workers.some((w) => typeof w.pid === 'number' && !pids.includes(w.pid));
    if (restarted) throw new Error('a worker was restarted during the soak: its heap readings are void');
  } finally {
    child.send({ stop: true });
    await bench.stop();
    await nats.stop();
    probe.dispose();
  }
  const xs = checkpoints.map((c) => c.sessions);
  const supPer1000 =
    slope(
      xs,
      checkpoints.map((c) => c.supervisor_mb),
    ) * 1000;
  const workerPer1000 = Array.from(
    { length: checkpoints[0]?.workers_mb.length ?? 0 },
    (_, i) =>
      slope(
        xs,
        checkpoints.map((c) => c.workers_mb[i] as number),
      ) * 1000,
  );
  const first = checkpoints[0] as Checkpoint;
  const last = checkpoints.at(-1) as Checkpoint;
  const wallMs = checkpoints.slice(1).reduce((s, c) => s + c.ms, 0);
  const result = {
    bench: 'soak',
    mode,
    sessions: ok + failed,
    sessions_ok: ok,
    sessions_failed: failed,
    workers: WORKERS,
    in_flight: IN_FLIGHT,
    sessions_per_s: round(((ok + failed) / wallMs) * 1000),
    supervisor_mb_per_1000: round(supPer1000, 3),
    worker_mb_per_1000: round(Math.max(...workerPer1000), 3),
    workers_mb_per_1000: workerPer1000.map((x) => round(x, 3)),
    supervisor_heap_mb_before: round(first.supervisor_mb, 2),
    supervisor_heap_mb_after: round(last.supervisor_mb, 2),
    workers_heap_mb_before: first.workers_mb.map((x) => round(x, 2)),
    workers_heap_mb_after: last.workers_mb.map((x) => round(x, 2)),
    target_mb_per_1000: 1,
    checkpoints: checkpoints.map((c) => ({
      sessions: c.sessions,
      supervisor_mb: round(c.supervisor_mb, 2),
      workers_mb: c.workers_mb.map((x) => round(x, 2)),
    })),
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(mode, 'soak', soakDoc(result));
  if (path) log.info({ path }, 'table written');
}

function soakDoc(r: {
  sessions: number;
  sessions_failed: number;
  sessions_per_s: number;
  supervisor_mb_per_1000: number;
  workers_mb_per_1000: number[];
  checkpoints: { sessions: number; supervisor_mb: number; workers_mb: number[] }[];
  hardware: ReturnType<typeof hardware>;
}): string {
  const hw = r.hardware;
  return `# Soak benchmark

Generated by \`npm run bench -- --write-docs\` (bench/soak.bench.ts). Do not edit by hand.

${r.sessions} sessions (${r.sessions_failed} not active) churned through a pool of ${WORKERS} worker
processes, ${IN_FLIGHT} at a time, ${r.sessions_per_s} sessions/s. Heap after a full GC, in MB, at
each checkpoint (the first after a warm-up of ${WARMUP} sessions, which fills the bounded records of
ended sessions: a worker keeps its last ${ENDED_RECORD_LIMIT}):

${mdTable(
  ['sessions', 'supervisor', ...r.workers_mb_per_1000.map((_, i) => `worker ${i + 1}`)],
  r.checkpoints.map((c) => [c.sessions, c.supervisor_mb, ...c.workers_mb]),
)}

Growth per 1,000 sessions (least-squares slope over the checkpoints):

${mdTable(
  ['process', 'MB per 1,000 sessions'],
  [['supervisor', r.supervisor_mb_per_1000], ...r.workers_mb_per_1000.map((x, i) => [`worker ${i + 1}`, x])],
)}

Hardware: ${hw.cpu}, ${hw.cores} cores, ${hw.ram_gb} GB RAM, Node ${hw.node}, load ${hw.load_1m}.
`;
}

runBench(main);
