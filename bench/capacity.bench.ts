/**
 * capacity: the most concurrent voice sessions ONE worker process, and one worker per core (the
 * machine), sustain on real-time speech with the real Silero VAD, next to the floor measured in the
 * same run: the same number of bare
 * `vad.stream()`s of one model fed the same audio (no AgentSession, no runtime); and how many
 * sessions agents-js sustains on the same machine, a process per job (capacity/agents-js-side.ts).
 * Sustaining: event loop delay p99 ≤ 20 ms (monitorEventLoopDelay inside the process), every stream
 * hears speech, and none reports it later than a real-time VAD would (see capacity/verdict.ts).
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/capacity.md.
 *
 *   npm run bench:capacity [-- --quick | --smoke]
 */
import { availableParallelism } from 'node:os';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { agentsJsCapacity } from './capacity/agents-js-side.ts';
import { ProbeProcess } from './capacity/probe-process.ts';
import { findLimit, type SearchOptions } from './capacity/search.ts';
import { judge, SUSTAIN, type Verdict } from './capacity/verdict.ts';
import { capacityDoc } from './lib/capacity-doc.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { AUDIO, type BenchPool, InspectWatch, startBenchPool, waitReady } from './lib/pool.ts';
import { benchLog, emit, ROOT, runBench, writeDoc } from './lib/report.ts';
import { round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('capacity');
/** One worker per core for the per-machine figure. */
const CORES = availableParallelism();
/** Each probe: settle (new streams start, speech is checked from here), then the measured window. */
const SETTLE_MS = byMode(mode, { full: 2_000, quick: 1_000, smoke: 300 });
const WINDOW_MS = byMode(mode, { full: 8_000, quick: 3_600, smoke: 700 });
/** OPENRTC_BENCH_CAPACITY_AT=N runs one probe of N on each side (for profiling), no search. */
const AT = Number(process.env.OPENRTC_BENCH_CAPACITY_AT ?? 0);
const SEARCH: Omit<SearchOptions, 'max'> = AT
  ? { start: AT, resolution: 1, maxProbes: 1 }
  : byMode(mode, {
      full: { start: 10, resolution: 0.05, maxProbes: 10 },
      quick: { start: 10, resolution: 0.2, maxProbes: 4 },
      smoke: { start: 2, resolution: 1, maxProbes: 1 },
    });
/**
 * agents-js, a process per session: every probe boots 2 N processes, so the search starts low and
 * stops at a coarser resolution (N is small: a step of 1 is about 10%).
 */
const AGENTS_JS_SEARCH: Omit<SearchOptions, 'max'> = AT
  ? { start: AT, resolution: 1, maxProbes: 1 }
  : byMode(mode, {
      full: { start: 4, resolution: 0.1, maxProbes: 8 },
      quick: { start: 4, resolution: 0.25, maxProbes: 3 },
      smoke: { start: 1, resolution: 1, maxProbes: 1 },
    });
/** After a failed probe, everything is stopped and the process gets this long to drain its backlog. */
const RECOVER_MS = byMode(mode, { full: 3_000, quick: 1_500, smoke: 300 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Side = { limit: number; probes: Verdict[] };

async function vadOnly(): Promise<Side> {
  const proc = await ProbeProcess.start(`${ROOT}bench/capacity/vad-only.ts`, [
    AUDIO.restaurant,
    AUDIO.dental,
  ]);
  const verdicts: Verdict[] = [];
  let overloaded = false;
  try {
    const { limit } = await findLimit(
      async (n) => {
        if (overloaded) {
          // A failed probe leaves a backlog that would fail the next one too: start it afresh.
          await proc.ask({ type: 'resize', n: 0 }, 'resized');
          await sleep(RECOVER_MS);
        }
        const { streams } = await proc.ask({ type: 'resize', n }, 'resized');
        const from = Date.now();
        await sleep(SETTLE_MS);
        const warned = proc.slowWarnings;
        const { loop, speech } = await proc.ask({ type: 'sample', windowMs: WINDOW_MS }, 'sample');
        const v = judge({
          streams,
          speech,
          from,
          to: Date.now(),
          loop,
          slowWarnings: proc.slowWarnings - warned,
        });
        verdicts.push(v);
        overloaded = !v.pass;
        log.info(describe('vad-only', v), `vad-only ${n} streams: ${v.pass ? 'sustained' : 'not sustained'}`);
        return { n, pass: v.pass, elu: loop.elu };
      },
      { ...SEARCH, max: 600 },
    );
    return { limit, probes: verdicts };
  } finally {
    await proc.stop();
  }
}

/**
 * Sessions in `workers` real worker processes of one pool (1: per worker; one per core: per
 * machine), placed by the supervisor; sustained when every worker is (its loop), and every session.
 */
async function poolSide(nats: string, workers: number): Promise<Side> {
  const name = `capacity${workers}`;
  const bench: BenchPool = await startBenchPool({ nats, name, workers: 0, capacity: 10_000 });
  const procs = await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      ProbeProcess.start(`${ROOT}bench/capacity/worker.ts`, [nats, name, `cap${i + 1}`, '10000'], {
        OPENRTC_LOG_LEVEL: process.env.OPENRTC_LOG_LEVEL ?? 'warn',
        OPENRTC_AGENTS_LOG_LEVEL: 'warn', // to its piped stdout, where Silero's lag warnings are counted
      }),
    ),
  );
  const slowWarnings = () => procs.reduce((sum, p) => sum + p.slowWarnings, 0);
  const verdicts: Verdict[] = [];
  const watch = new InspectWatch(bench.client, { speech: true });
  const sessions: string[] = [];
  let dispatched = 0;
  let overloaded = false;
  try {
    await waitReady(bench.client, workers);
    const { limit } = await findLimit(
      async (n) => {
        if (overloaded) {
          await resizeSessions(bench, watch, sessions, 0, () => dispatched++);
          await sleep(RECOVER_MS);
        }
        await resizeSessions(bench, watch, sessions, n, () => dispatched++);
        const from = Date.now();
        await sleep(SETTLE_MS);
        const warned = slowWarnings();
        const loops = await Promise.all(
          procs.map(async (p) => (await p.ask({ type: 'sample', windowMs: WINDOW_MS }, 'sample')).loop),
        );
        // The worst worker's loop decides; CPU is the machine's.
        const worst = loops.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
        const loop = { ...worst, cpuCores: loops.reduce((sum, l) => sum + l.cpuCores, 0) };
        const to = Date.now();
        const streams = sessions.map((id) => ({ id, audioStartTs: audioStart(watch, id) }));
        const speech = watch.speech
          .filter((e) => e.ts >= from && e.ts <= to)
          .map((e) => ({ id: e.session, kind: e.kind as 'start' | 'end', atMs: e.atMs, ts: e.ts }));
        const v = judge({ streams, speech, from, to, loop, slowWarnings: slowWarnings() - warned });
        const ended = sessions.filter((s) => watch.state(s, 'failed') || watch.state(s, 'closed'));
        if (ended.length) {
          v.pass = false;
          v.reasons.push(`${ended.length} sessions ended`);
        }
        verdicts.push(v);
        overloaded = !v.pass;
        log.info(
          describe(`pool of ${workers}`, v),
          `pool of ${workers} workers, ${n} sessions: ${v.pass ? 'sustained' : 'not sustained'}`,
        );
        return { n, pass: v.pass, elu: loop.elu };
      },
      { ...SEARCH, ...(workers > 1 ? { start: SEARCH.start * workers } : {}), max: 600 * workers },
    );
    return { limit, probes: verdicts };
  } finally {
    watch.stop();
    await bench.stop();
    await Promise.all(procs.map((p) => p.stop()));
  }
}

/** Audio starts when connect ends (the session then greets, then is active). */
function audioStart(watch: InspectWatch, session: string): number {
  const s = watch.state(session, 'greeting') ?? watch.state(session, 'active');
  if (!s) throw new Error(`session ${session} never got past connecting`);
  return s.ts;
}

/** Dispatches or cancels sessions until `n` run, each looping one of the bundled WAVs at real time. */
async function resizeSessions(
  bench: BenchPool,
  watch: InspectWatch,
  sessions: string[],
  n: number,
  nextIndex: () => number,
): Promise<void> {
  const { client } = bench;
  while (sessions.length < n) {
    const batch = Array.from({ length: Math.min(10, n - sessions.length) }, nextIndex);
    const placed = await Promise.all(
      batch.map((i) =>
        client.dispatch({
          agent: i % 2 ? 'dental' : 'restaurant',
          job: { room: `capacity-${i}` },
          audio: {
            kind: 'wav',
            path: i % 2 ? AUDIO.dental : AUDIO.restaurant,
            realtime: true,
            loops: 10_000,
          },
        }),
      ),
    );
    sessions.push(...placed.map((p) => p.session));
  }
  const extra = sessions.splice(n);
  await Promise.all(
    extra.map((session) =>
      client.bus.request(
        client.subjects.workerCmd(watch.sessions.get(session)?.worker ?? 'cap1'),
        client.bus.make('session.cancel', { session, reason: 'capacity probe shrinks' }),
        5000,
      ),
    ),
  );
  await watch.until(
    `${n} sessions active, ${extra.length} ended`,
    () =>
      sessions.every((s) => watch.state(s, 'active')) &&
      extra.every((s) => watch.state(s, 'cancelled') || watch.state(s, 'closed') || watch.state(s, 'failed')),
    120_000,
  );
}

function describe(side: string, v: Verdict) {
  return {
    side,
    n: v.n,
    loopP99Ms: round(v.loop.p99Ms),
    elu: round(v.loop.elu, 2),
    cpuCores: round(v.loop.cpuCores, 2),
    lateMaxMs: round(v.lateMaxMs),
    silent: v.silent,
    slowWarnings: v.slowWarnings,
    reasons: v.reasons,
  };
}

async function main(): Promise<void> {
  log.info('floor: bare Silero streams in one process');
  const floor = await vadOnly();
  const nats = await startNatsServer();
  let pool: Side;
  let machine: Side;
  try {
    log.info('pool: voice sessions in one real worker process');
    pool = await poolSide(nats.url, 1);
    log.info({ workers: CORES }, 'pool: voice sessions in one worker per core');
    machine = await poolSide(nats.url, CORES);
  } finally {
    await nats.stop();
  }
  log.info('agents-js: a process per session (its AgentServer, the LiveKit protocol double)');
  const agentsJs = await agentsJsCapacity({
    log,
    cores: CORES,
    settleMs: SETTLE_MS,
    windowMs: WINDOW_MS,
    search: AGENTS_JS_SEARCH,
    max: 200,
  });
  const at = (s: Side) => s.probes.filter((p) => p.pass && p.n === s.limit).at(-1);
  const poolAt = at(pool);
  const floorAt = at(floor);
  const result = {
    bench: 'capacity',
    mode,
    vad_only_streams: floor.limit,
    pool_sessions: pool.limit,
    ratio: round(pool.limit / Math.max(1, floor.limit), 2),
    target_ratio: 1,
    /** The VAD the workers ran (src/runtime/voice/vad.ts: OPENRTC_VAD, else the batched one). */
    pool_vad: process.env.OPENRTC_VAD || 'batched',
    machine_workers: CORES,
    machine_sessions: machine.limit,
    machine_ratio_to_vad_only: round(machine.limit / Math.max(1, floor.limit), 2),
    agents_js_sessions: agentsJs.limit,
    /** Sessions the machine sustains: one pool worker per core against agents-js's process per job. */
    machine_ratio_to_agents_js: round(machine.limit / Math.max(1, agentsJs.limit), 2),
    loop_p99_ms: poolAt ? round(poolAt.loop.p99Ms) : null,
    vad_only_loop_p99_ms: floorAt ? round(floorAt.loop.p99Ms) : null,
    pool_cpu_cores: poolAt ? round(poolAt.loop.cpuCores, 2) : null,
    vad_only_cpu_cores: floorAt ? round(floorAt.loop.cpuCores, 2) : null,
    limits: { loop_p99_ms: SUSTAIN.loopP99Ms, late_ms: SUSTAIN.lateMs },
    window_ms: WINDOW_MS,
    probes: {
      vad_only: floor.probes.map((p) => [p.n, p.pass, round(p.loop.p99Ms)]),
      pool: pool.probes.map((p) => [p.n, p.pass, round(p.loop.p99Ms)]),
      machine: machine.probes.map((p) => [p.n, p.pass, round(p.loop.p99Ms)]),
      agents_js: agentsJs.probes.map((p) => [p.n, p.pass, round(p.loop.p99Ms)]),
    },
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(
    mode,
    'capacity',
    capacityDoc(result, { floor, pool, machine, agentsJs, settleMs: SETTLE_MS }),
  );
  if (path) log.info({ path }, 'table written');
}

runBench(main);
