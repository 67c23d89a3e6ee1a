/**
 * Where a worker's start goes, from data: starts `openrtc worker` from a staged build (as npm
 * installs it; bench/lib/stage.ts) against a running supervisor with the example agents, under
 * `node --cpu-prof`, `runs` times, beside `node -e 0`. For each run it keeps:
 *  - spawn → ready (wall, ms) and the worker's own boot timeline (its `worker boot timeline` log
 *    line: ms since the process started at the end of each step);
 *  - the main thread's CPU profile up to the end of prewarm, cut into the timeline's phases, each
 *    with its busy and idle time and the packages that ran (a sample belongs to the innermost
 *    frame of a package: a module's top-level code and what it calls; node's module loader work
 *    outside any package frame is the ESM loader: resolve, read, compile, link);
 *  - the busy time of the other threads (the Silero model's thread, the module hooks' thread).
 * Prints one JSON line: the median run's figures, and every run's timeline. With `--write` it also
 * writes docs/benchmarks/profiles/worker-boot.json.
 *
 *   npx tsx bench/profile/worker-boot-profile.ts [--runs 3] [--write]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../../src/runtime/nats/server.ts';
import { hardware } from '../lib/hardware.ts';
import { benchLog, emit, ROOT, runBench } from '../lib/report.ts';
import { isReady, stagePackage, stop, timed, until } from '../lib/stage.ts';
import { median, round } from '../lib/stats.ts';

const log = benchLog('worker-boot-profile');
const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt > 0 ? Math.max(1, Number(process.argv[runsAt + 1])) : 3;
/** Sampling interval of the profiles (µs). */
const INTERVAL_US = 500;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The package a script belongs to: a node_modules package, openrtc's build, or an agent module. */
function packageOf(url: string, pkgDir: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes(`${pkgDir}/dist/`)) return 'openrtc (dist)';
  if (url.includes(`${pkgDir}/bin/`)) return 'openrtc (bin)';
  if (url.includes(`${pkgDir}/agents/`)) return 'agent modules';
  if (url.startsWith('data:')) return 'module hooks (data: URL)';
  return undefined;
}

const LOADER = /^node:internal\/modules\//;
const HOOKS = /^node:internal\/modules\/esm\/hooks/;

/** What each sample of a profile was doing: idle, gc, a package's code, or node's module loader. */
function sampleKinds(profile: CpuProfile, pkgDir: string): Map<number, string> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const kinds = new Map<number, string>();
  const root = profile.nodes[0];
  if (!root) return kinds;
  const walk = (id: number, owner: string | undefined, loading: boolean, waiting: boolean) => {
    const node = byId.get(id);
    if (!node) return;
    const { functionName, url } = node.callFrame;
    const own = packageOf(url, pkgDir) ?? owner;
    const load = loading || LOADER.test(url);
    // module.register() blocks until the hooks thread has started and loaded the hooks.
    const wait =
      waiting ||
      (HOOKS.test(url) && (functionName === 'makeSyncRequest' || functionName === 'waitForWorker'));
    let kind: string;
    if (functionName === '(idle)') kind = '(idle)';
    else if (wait) kind = '(module.register: waiting for the hooks thread)';
    else if (functionName === '(garbage collector)') kind = '(garbage collector)';
    else if (functionName === '(program)') kind = '(program: V8 and native, unattributed)';
    else if (own) kind = own;
    else if (load) kind = '(ESM loader: resolve, read, compile, link)';
    else kind = '(node internals)';
    kinds.set(id, kind);
    for (const c of node.children ?? []) walk(c, own, load, wait);
  };
  walk(root.id, undefined, false, false);
  return kinds;
}

interface Phase {
  name: string;
  fromMs: number;
  toMs: number;
}

/**
 * Busy/idle ms and ms by kind, per phase, over the profile's samples. `originMs` is the process's
 * start on the monotonic clock the profile's timestamps use, so samples line up with the phases.
 */
function cutProfile(profile: CpuProfile, pkgDir: string, phases: Phase[], originMs: number) {
  const kinds = sampleKinds(profile, pkgDir);
  const out = phases.map((p) => ({ ...p, busy: 0, idle: 0, by: new Map<string, number>() }));
  let t = profile.startTime / 1000 - originMs;
  for (let i = 0; i < profile.samples.length; i++) {
    t += (profile.timeDeltas[i] ?? 0) / 1000;
    const phase = out.find((p) => t >= p.fromMs && t < p.toMs);
    if (!phase) continue;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000; // this sample lasts until the next
    const kind = kinds.get(profile.samples[i] as number) ?? '(node internals)';
    if (kind === '(idle)') phase.idle += dt;
    else {
      phase.busy += dt;
      phase.by.set(kind, (phase.by.get(kind) ?? 0) + dt);
    }
  }
  return out.map((p) => ({
    phase: p.name,
    from_ms: p.fromMs,
    to_ms: p.toMs,
    busy_ms: round(p.busy, 0),
    idle_ms: round(p.idle, 0),
    top: [...p.by.entries()]
      .sort((a, b) => b[1] - a[1])
      .filter(([, ms]) => ms >= 5)
      .slice(0, 12)
      .map(([what, ms]) => ({ what, ms: round(ms, 0) })),
  }));
}

/** Busy ms of a whole profile (another thread's). */
function busyMs(profile: CpuProfile): number {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    if (!idle.has(profile.samples[i] as number)) busy += (profile.timeDeltas[i + 1] ?? 0) / 1000;
  }
  return round(busy, 0);
}

/** The phases of a worker's start, from its boot timeline (ms since the process started). */
function phasesOf(marks: Record<string, number>): Phase[] {
  const at = (k: string) => marks[k] ?? Number.NaN;
  return [
    {
      name: 'node, the openrtc CLI and the worker core modules (pino, NATS client, xstate, zod schemas)',
      fromMs: 0,
      toMs: at('main'),
    },
    {
      name: 'session runtime import (@livekit/agents and its dependencies, rtc-node, the LiveKit room code); NATS connects meanwhile',
      fromMs: at('main'),
      toMs: at('sessionRuntime'),
    },
    { name: 'hello → welcome (the agent registry)', fromMs: at('sessionRuntime'), toMs: at('welcomed') },
    {
      name: 'agent modules: module hooks, tsx (TypeScript agents), the modules and their prewarm',
      fromMs: at('welcomed'),
      toMs: at('prewarmed'),
    },
  ];
}

interface Run {
  ready_ms: number;
  timeline: Record<string, number>;
  phases: ReturnType<typeof cutProfile>;
  main_busy_ms: number;
  threads_busy_ms: number[];
}

runBench(async () => {
  const pkg = stagePackage();
  const bin = join(pkg, 'bin/openrtc.js');
  const profiles = mkdtempSync(join(tmpdir(), 'openrtc-boot-prof-'));
  const nats = await startNatsServer();
  const pool = 'boot-profile';
  const children: ChildProcess[] = [];
  try {
    const sup = await until(
      [bin, 'supervisor', join(pkg, 'agents'), '--nats', nats.url, '--pool', pool],
      (l) => typeof l.msg === 'string' && l.msg.includes('running'),
    );
    children.push(sup.child);
    const nodeMs: number[] = [];
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      nodeMs.push(timed(['-e', '0']));
      const dir = join(profiles, `run${i}`);
      mkdirSync(dir);
      const w = await until(
        [
          '--cpu-prof',
          '--cpu-prof-dir',
          dir,
          '--cpu-prof-interval',
          String(INTERVAL_US),
          bin,
          'worker',
          '--nats',
          nats.url,
          '--pool',
          pool,
          '--id',
          `p${i}`,
          '--json-logs',
        ],
        isReady,
      );
      await stop(w.child); // the profiles are written as the process exits
      const line = w.lines.find((l) => l.msg === 'worker boot timeline');
      const boot = line?.sinceStartMs as Record<string, number> | undefined;
      if (!boot || typeof line?.originMs !== 'number') throw new Error('the worker logged no boot timeline');
      // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
      const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
      const mainFile = files.find((f) => f.split('.').at(-3) === '0');
      if (!mainFile) throw new Error(`no main-thread profile in ${dir}: ${files.join(', ')}`);
      const main = read(mainFile);
      const phases = cutProfile(main, pkg, phasesOf(boot), line.originMs);
      runs.push({
        ready_ms: round(w.ms, 0),
        timeline: boot,
        phases,
        main_busy_ms: phases.reduce((s, p) => s + p.busy_ms, 0),
        threads_busy_ms: files.filter((f) => f !== mainFile).map((f) => busyMs(read(f))),
      });
      log.info({ run: i + 1, of: RUNS, readyMs: round(w.ms, 0), boot }, 'worker profiled');
    }
    const sorted = [...runs].sort((a, b) => a.ready_ms - b.ready_ms);
    const mid = sorted[Math.floor(sorted.length / 2)] as Run;
    const node = round(median(nodeMs), 0);
    const result = {
      bench: 'worker-boot-profile',
      hardware: hardware(),
      runs: RUNS,
      sample_interval_us: INTERVAL_US,
      node_ms: node,
      worker_ready_ms: round(median(runs.map((r) => r.ready_ms)), 0),
      ratio_worker_ready: round(median(runs.map((r) => r.ready_ms)) / node, 1),
      note: "times in ms since the worker process started; ready_ms is measured by the parent from spawn (the CPU profiler adds some time); phases are cut from the median run's main-thread profile at its boot timeline (the profiler starts a little after the process: the first phase is short of that much); threads_busy_ms are the other threads (the Silero model thread, the module hooks thread)",
      median_run: mid,
      timelines: runs.map((r) => ({ ready_ms: r.ready_ms, ...r.timeline })),
    };
    emit(result);
    if (process.argv.includes('--write')) {
      mkdirSync(`${ROOT}docs/benchmarks/profiles`, { recursive: true });
      writeFileSync(
        `${ROOT}docs/benchmarks/profiles/worker-boot.json`,
        `${JSON.stringify(result, null, 2)}\n`,
      );
      log.info('docs/benchmarks/profiles/worker-boot.json written');
    }
  } finally {
    for (const c of children.reverse()) await stop(c);
    await nats.stop();
    rmSync(pkg, { recursive: true, force: true });
    rmSync(profiles, { recursive: true, force: true });
  }
});
