/**
 * Where a live voice session's memory goes, in a real pool worker (what density's marginal figure
 * is made of):
 *   npx tsx bench/profile/session-memory.ts [sessions=10] [--seconds 30] [--snapshots] [--write-docs]
 * Starts a pool of one worker (preloaded with bench/profile/memory-probe.cjs), reads the idle
 * worker, dispatches N restaurant sessions fast-fed on the bundled speech (as density does), and
 * once every session has been fed --seconds of audio reads the worker again: live JS heap (after a
 * full GC, by V8 space), ArrayBuffers, other external memory, and RSS/PSS, each as a difference
 * per session. With `--snapshots` the worker also writes a heap snapshot at each reading (kept in
 * the probe's folder, printed; compare them with bench/profile/heap-diff.py). With `--write-docs` it also writes docs/benchmarks/profiles/session-memory.json
 * (session-memory-heap-growth-<P>.json when OPENRTC_HEAP_GROWTH=<P> sets the worker's `--heap-growth`).
 * Resident memory is also split by kind of mapping (/proc/<pid>/smaps): V8's 256 KB heap pages,
 * the C heap, other anonymous, file-backed; and the worker's CPU per session is reported.
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startNatsServer } from '../../src/runtime/nats/server.ts';
import { type HeapReading, MemoryProbe } from '../lib/memory-probe.ts';
import { AUDIO, InspectWatch, startBenchPool, waitReady } from '../lib/pool.ts';
import { procCpuMs, procMemory } from '../lib/proc.ts';
import { ROOT } from '../lib/report.ts';

const flags = process.argv.slice(2);
const secondsAt = flags.indexOf('--seconds');
const seconds = secondsAt >= 0 ? Number(flags[secondsAt + 1]) : 30;
const positional = flags.filter((f, i) => !f.startsWith('--') && (secondsAt < 0 || i !== secondsAt + 1));
const n = Number(positional[0] ?? 10);
const r2 = (x: number) => Math.round(x * 100) / 100;
/** The worker's V8 heap growth (`--heap-growth`), when this run sets one through the environment. */
const heapGrowth = process.env.OPENRTC_HEAP_GROWTH;

/**
 * Resident memory by kind of mapping, from /proc/<pid>/smaps, in MB: V8 allocates its heap in
 * 256 KB anonymous pages (`anon_256k`); `malloc_heap` is the C heap (`[heap]`: ArrayBuffer stores,
 * native objects); other anonymous mappings (thread stacks, large mallocs, V8's larger spaces) and
 * file-backed ones (code, the model) apart.
 */
function residentByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = { anon_256k: 0, malloc_heap: 0, anon_other: 0, file: 0 };
  let kind = 'file';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const kb = (Number.parseInt(m[2] as string, 16) - Number.parseInt(m[1] as string, 16)) / 1024;
      const name = (m[3] as string).trim();
      kind =
        name === '[heap]' ? 'malloc_heap' : name === '' ? (kb === 256 ? 'anon_256k' : 'anon_other') : 'file';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] as number) + Number(rss[1]) / 1024;
  }
  return out;
}

const probe = new MemoryProbe();
const nats = await startNatsServer();
const bench = await startBenchPool({
  nats: nats.url,
  name: 'session-memory',
  workers: 1,
  capacity: n,
  workerEnv: probe.env(flags.includes('--snapshots')),
});
try {
  const [worker] = await waitReady(bench.client, 1);
  if (!worker?.pid) throw new Error('the worker reported no pid');
  await new Promise((r) => setTimeout(r, 2000));
  const idle = await probe.read(worker.pid);
  const idlePss = procMemory(worker.pid);
  const idleMaps = residentByMapping(worker.pid);
  const cpu0 = procCpuMs(worker.pid);
  const watch = new InspectWatch(bench.client, { speech: true });
  const placed = await Promise.all(
    Array.from({ length: n }, (_, j) =>
      bench.client.dispatch({
        agent: 'restaurant',
        job: { room: `session-memory-${j}` },
        audio: { kind: 'wav', path: AUDIO.restaurant, realtime: false, loops: 10_000 },
      }),
    ),
  );
  const ids = placed.map((p) => p.session);
  const reached = () =>
    ids.map((s) => Math.max(0, ...watch.speech.filter((e) => e.session === s).map((e) => e.atMs)));
  await watch.until(
    `every session fed ${seconds} s`,
    () => reached().every((ms) => ms >= seconds * 1000),
    60_000 + seconds * 2000,
  );
  const livePss = procMemory(worker.pid);
  const liveMaps = residentByMapping(worker.pid);
  const cpuMs = procCpuMs(worker.pid) - cpu0;
  const live = await probe.read(worker.pid);
  watch.stop();
  const per = (a: number, b: number) => r2((b - a) / n);
  const split = (x: HeapReading) => ({
    heap: x.heapUsed,
    array_buffers: x.arrayBuffers,
    other_external: x.external - x.arrayBuffers,
  });
  const a = split(idle.after);
  const b = split(live.after);
  const spaces = Object.fromEntries(
    Object.keys(live.after.spaces).map((k) => [k, per(idle.after.spaces[k] ?? 0, live.after.spaces[k] ?? 0)]),
  );
  const heapTotal = per(idle.after.heapTotal, live.after.heapTotal);
  const result = {
    generated_by: `npx tsx bench/profile/session-memory.ts ${flags.join(' ')}`.trim(),
    commit: execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim(),
    load_1m: r2(loadavg()[0] ?? 0),
    sessions: n,
    heap_growth_percent: heapGrowth === undefined ? null : Number(heapGrowth),
    // The worker's CPU (all threads) from idle to the live reading, per session.
    worker_cpu_ms_per_session: r2(cpuMs / n),
    fed_s_min: r2(Math.min(...reached()) / 1000),
    mb_per_session: {
      pss: per(idlePss.pss_mb, livePss.pss_mb),
      rss: per(idle.after.rss, live.after.rss),
      heap_used_after_gc: per(a.heap, b.heap),
      heap_total: heapTotal,
      array_buffers: per(a.array_buffers, b.array_buffers),
      other_external: per(a.other_external, b.other_external),
      garbage_before_gc: r2((live.before.heapUsed - live.after.heapUsed) / n),
    },
    heap_spaces_mb_per_session: spaces,
    rss_mb_per_session_by_mapping: Object.fromEntries(
      Object.keys(liveMaps).map((k) => [k, per(idleMaps[k] ?? 0, liveMaps[k] ?? 0)]),
    ),
    worker_idle: { pss_mb: r2(idlePss.pss_mb), ...idle.after },
    worker_live: { pss_mb: r2(livePss.pss_mb), ...live.after },
    ...(idle.snapshot ? { snapshots: [idle.snapshot, live.snapshot] } : {}),
  };
  console.log(JSON.stringify(result));
  if (flags.includes('--write-docs'))
    writeFileSync(
      `${ROOT}docs/benchmarks/profiles/session-memory${heapGrowth === undefined ? '' : `-heap-growth-${heapGrowth}`}.json`,
      `${JSON.stringify(result, null, 1)}\n`,
    );
} finally {
  await bench.stop();
  await nats.stop();
  if (!flags.includes('--snapshots')) probe.dispose();
}
process.exit(0);
