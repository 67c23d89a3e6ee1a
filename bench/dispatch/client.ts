/**
 * The dispatch bench's client: a process of its own (as any NATS client of a pool is), so the
 * supervisor's event loop serves only the pool. Dispatches through the real PoolClient, follows
 * sessions on the inspect subjects, and sends its samples to the parent over IPC.
 *
 *   client.ts <nats url> <pool> <n> <warmup> <n sequential> <in flight>
 */
import { randomUUID } from 'node:crypto';
import { PoolClient } from '../../src/runtime/client.ts';
import type { Hops } from '../lib/dispatch-doc.ts';
import { InspectWatch } from '../lib/pool.ts';
import { procCpuMs } from '../lib/proc.ts';
import { poolLog } from '../lib/report.ts';

export interface Sample {
  ms: number;
  hops: Hops;
}

export interface ClientResult {
  samples: Sample[];
  sequential: Sample[];
  workers: number;
  wallMs: number;
  workerCpuMs: number;
}

const [url, pool, n, warmup, nSequential, inFlight] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const INPUT = { kind: 'silence' as const, durationMs: 200 };
const client = await PoolClient.connect({ url, pool, log: poolLog({ role: 'client' }), id: 'bench-client' });
const watch = new InspectWatch(client);
/** One dispatch, timed from the request to the client seeing `active`. */
async function one(i: number): Promise<Sample> {
  const room = `${i % 2 ? 'dental' : 'restaurant'}-${randomUUID().slice(0, 8)}`;
  const sentTs = Date.now();
  const t0 = performance.now();
  const placed = await client.dispatch({ job: { room }, audio: INPUT });
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
  void client.bus
    .request(
      client.subjects.workerCmd(placed.worker),
      client.bus.make('session.cancel', { session: placed.session, reason: 'measured' }),
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

/** Runs `count` dispatches, `inFlight` at a time. */
async function run(count: number, inFlight: number) {
  const out: Sample[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) out.push(await one(next++));
    }),
  );
  return out;
}

const status = await client.status();
const pids = status.workers.map((w) => w.pid).filter((p): p is number => typeof p === 'number');
await run(Number(warmup), Number(inFlight));
const cpu0 = pids.map(procCpuMs);
const wall0 = performance.now();
const samples = await run(Number(n), Number(inFlight));
const wallMs = performance.now() - wall0;
const workerCpuMs = pids.reduce((sum, pid, i) => sum + procCpuMs(pid) - (cpu0[i] as number), 0);
const sequential = await run(Number(nSequential), 1);
const workers = new Set([...watch.sessions.values()].map((s) => s.worker)).size;
watch.stop();
await client.close();
const result: ClientResult = { samples, sequential, workers, wallMs, workerCpuMs };
process.send?.(result, () => process.exit(0));
