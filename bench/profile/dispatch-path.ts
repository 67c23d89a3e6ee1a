/**
 * Where a dispatch's time goes, one at a time (client → supervisor → worker → session phases →
 * client): a real pool (supervisor in this process, 2 `openrtc worker` processes, a nats-server),
 * N dispatches one after another. Each hop is timed on this process's clock from the arrival of
 * the session's transitions (sub-ms, unlike the workers' ms envelope stamps), and every process
 * runs the V8 sampling profiler (cpu-profile.cjs): the profiles are cut to the measured window
 * (CLOCK_MONOTONIC is shared by the processes) and summarised by self time per function and
 * package. Prints one JSON document; with `--write-docs` it also writes
 * docs/benchmarks/profiles/dispatch-path.json.
 *
 *   npx tsx bench/profile/dispatch-path.ts [--n 100] [--write-docs]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../../src/runtime/nats/server.ts';
import { InspectWatch, startBenchPool, waitReady } from '../lib/pool.ts';
import { ROOT } from '../lib/report.ts';
import { percentile, round } from '../lib/stats.ts';

const args = process.argv.slice(2);
const N = args.includes('--n') ? Number(args[args.indexOf('--n') + 1]) : 100;
if (!(N > 0)) throw new Error(`--n must be a positive number, not '${args[args.indexOf('--n') + 1]}'`);
const WARMUP = 20;
const WRITE = args.includes('--write-docs');
const PROFILE_DIR = mkdtempSync(join(tmpdir(), 'openrtc-dispatch-prof-'));

const HOPS = [
  ['dispatch_ok', 'request → dispatch.ok back here'],
  ['to_prewarming', 'request → the worker’s `prewarming` arrives here'],
  ['prewarming', '`prewarming` → `connecting`'],
  ['connecting', '`connecting` → `greeting`'],
  ['greeting', '`greeting` → `active`'],
  ['total', 'request → `active` arrives here'],
] as const;
type Hop = (typeof HOPS)[number][0];

const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function measure(): Promise<{
  samples: Record<Hop, number>[];
  windowUs: [number, number];
  supervisor: CpuProfile;
}> {
  const nats = await startNatsServer();
  const profile = {
    OPENRTC_CPU_PROFILE_DIR: PROFILE_DIR,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${ROOT}bench/profile/cpu-profile.cjs`,
  };
  const bench = await startBenchPool({
    nats: nats.url,
    name: 'path',
    workers: 2,
    capacity: 50,
    workerEnv: profile,
  });
  const samples: Record<Hop, number>[] = [];
  let windowUs: [number, number] = [0, 0];
  // The supervisor (and this client) run in this process: profiled over the measured window.
  const inspector = new Session();
  inspector.connect();
  let supervisor: CpuProfile = { nodes: [], startTime: 0, samples: [], timeDeltas: [] };
  try {
    await waitReady(bench.client, 2);
    const watch = new InspectWatch(bench.client);
    const one = async (i: number) => {
      const t0 = performance.now();
      const placed = await bench.client.dispatch({
        job: { room: `${i % 2 ? 'dental' : 'restaurant'}-${i}` },
        audio: { kind: 'silence', durationMs: 200 },
      });
      const okAt = performance.now();
      await watch.until(
        `session ${placed.session} active`,
        () => watch.state(placed.session, 'active'),
        30_000,
      );
      void bench.client.bus
        .request(
          bench.client.subjects.workerCmd(placed.worker),
          bench.client.bus.make('session.cancel', { session: placed.session, reason: 'measured' }),
          5000,
        )
        .catch(() => {});
      const at = (s: string) => watch.state(placed.session, s)?.at ?? Number.NaN;
      return {
        dispatch_ok: okAt - t0,
        to_prewarming: at('prewarming') - t0,
        prewarming: at('connecting') - at('prewarming'),
        connecting: at('greeting') - at('connecting'),
        greeting: at('active') - at('greeting'),
        total: at('active') - t0,
      };
    };
    for (let i = 0; i < WARMUP; i++) await one(i);
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
    await inspector.post('Profiler.start');
    const start = monoUs();
    for (let i = 0; i < N; i++) samples.push(await one(WARMUP + i));
    windowUs = [start, monoUs()];
    supervisor = (await inspector.post('Profiler.stop')).profile as unknown as CpuProfile;
    inspector.disconnect();
    watch.stop();
  } finally {
    await bench.stop();
    await nats.stop();
  }
  return { samples, windowUs, supervisor };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const ours = url.includes(ROOT)
    ? /^((?:src\/[^/]+\/)?[^/]+)/.exec(url.slice(url.indexOf(ROOT) + ROOT.length))?.[1]
    : undefined;
  if (ours) return ours;
  return url.startsWith('node:') ? `node:${url.slice(5).split('/')[0]}` : url || '(native)';
}

/** Self time per function and per package, in ms, over the samples inside `window` (µs, CLOCK_MONOTONIC). */
function summarise(p: CpuProfile, window: [number, number]) {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** Inclusive time of our own functions (src/): what of ours the time was spent under. */
  const ours = new Map<string, number>();
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let t = p.startTime;
  let inWindowUs = 0;
  let idleUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < window[0] || t > window[1]) continue;
    inWindowUs += dt;
    const f = nodes.get(p.samples[i] as number)?.callFrame;
    if (!f) continue;
    if (f.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    const key = `${f.functionName || '(anonymous)'} ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + dt);
    const pkg = f.url ? where(f.url) : f.functionName;
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
      const c = nodes.get(id)?.callFrame;
      if (!c?.url.includes('/src/')) continue;
      const name = `${c.functionName || '(anonymous)'} ${c.url.slice(c.url.indexOf('/src/') + 1)}:${c.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      ours.set(name, (ours.get(name) ?? 0) + dt);
    }
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => ({
        name,
        ms: round(us / 1000, 1),
        share: round(us / Math.max(1, inWindowUs - idleUs), 3),
      }));
  return {
    window_ms: round(inWindowUs / 1000),
    busy_ms: round((inWindowUs - idleUs) / 1000),
    busy_share: round((inWindowUs - idleUs) / Math.max(1, inWindowUs), 3),
    self_by_package: top(byPkg, 15),
    self_by_function: top(byFn, 25),
    inclusive_ours: top(ours, 25),
  };
}

async function main(): Promise<void> {
  const { samples, windowUs, supervisor } = await measure();
  const profiles = readdirSync(PROFILE_DIR).filter((f) => f.endsWith('.cpuprofile'));
  const processes = profiles.map((f) => {
    const role = f.includes('worker') ? 'worker' : 'other';
    return {
      file: f.replace(/^\d+-/, ''),
      role,
      ...summarise(JSON.parse(readFileSync(join(PROFILE_DIR, f), 'utf8')), windowUs),
    };
  });
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  processes.unshift({
    file: 'supervisor and client (this process)',
    role: 'supervisor',
    ...summarise(supervisor, windowUs),
  });
  const hops = Object.fromEntries(
    HOPS.map(([key, what]) => {
      const v = samples.map((s) => s[key]);
      return [
        key,
        {
          what,
          p50_ms: round(percentile(v, 50), 2),
          p90_ms: round(percentile(v, 90), 2),
          p99_ms: round(percentile(v, 99), 2),
        },
      ];
    }),
  );
  const doc = {
    generated_by: 'npx tsx bench/profile/dispatch-path.ts --write-docs',
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    load_1m: round(loadavg()[0] ?? 0, 2),
    n: samples.length,
    warmup: WARMUP,
    hops,
    processes,
  };
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  process.stdout.write(text);
  if (WRITE) {
    mkdirSync(`${ROOT}docs/benchmarks/profiles`, { recursive: true });
    writeFileSync(`${ROOT}docs/benchmarks/profiles/dispatch-path.json`, text);
  }
}

await main();
