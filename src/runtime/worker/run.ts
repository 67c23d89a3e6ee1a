import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { createLogger } from '../logger.ts';
import { natsInboxPrefix } from '../nats/auth.ts';
import { Bus } from '../nats/bus.ts';
import { isAlive } from '../process-alive.ts';
import { loadSharedVad, vadLoadCount } from '../voice/vad.ts';
import type { DriverFactory } from './driver.ts';
import { prewarmAgents } from './prewarm-agents.ts';
import { WorkerService } from './service.ts';

export interface WorkerOptions {
  nats: string;
  pool: string;
  id?: string;
  capacity: number;
  drainTimeoutMs?: number;
  /** Local workers: exit (after draining) when the supervisor process that started us is gone. */
  parentPid?: number;
  pretty: boolean;
  /** NATS credentials/TLS (see docs/security.md). */
  natsAuth?: Partial<NodeConnectionOptions>;
  /**
   * How far V8 lets the heap grow past its live data before the next full collection, in percent
   * (`--heap-growth`; V8's `--heap-growing-percent`). Absent: V8's own choice, which grows the heap
   * to several times the live data under a high allocation rate. docs/operations.md, Memory.
   */
  heapGrowthPercent?: number;
}

/** Exit codes of a worker process: the supervisor restarts on anything but 0. */
export const WORKER_EXIT = { stopped: 0, failed: 3 } as const;

/** Runs a worker process until it is drained or shut down; resolves with its exit code. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const boot = bootTimeline();
  // Read by V8 at every full collection, so setting it at start covers the worker's whole life.
  if (opts.heapGrowthPercent !== undefined)
    setFlagsFromString(`--heap-growing-percent=${opts.heapGrowthPercent}`);
  // A worker's start is mostly importing. The Silero model's thread starts first (it loads on
  // another core), then the session runtime's import (@livekit/agents, rtc-node, the LiveKit room
  // code), while NATS connects (docs/package.md, Startup).
  const vad = loadSharedVad();
  vad.then(
    () => boot.mark('vad'),
    () => {}, // awaited at prewarm
  );
  const sessionRuntime = import('./voice-driver.ts').then((m) => {
    boot.mark('sessionRuntime');
    return m;
  });
  sessionRuntime.catch(() => {}); // awaited below
  const workerId =
    opts.id ??
    `${hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 40)}-${process.pid}`;
  const log = createLogger({ pretty: opts.pretty, base: { pool: opts.pool, worker: workerId } });
  const bus = await Bus.connect({
    url: opts.nats,
    name: `openrtc-worker-${workerId}`,
    self: workerId,
    log,
    connect: { ...opts.natsAuth, inboxPrefix: natsInboxPrefix(opts.pool, { kind: 'worker', id: workerId }) },
  });
  boot.mark('connected');
  if (opts.heapGrowthPercent !== undefined)
    log.info({ heapGrowthPercent: opts.heapGrowthPercent }, 'V8 heap growth set (--heap-growth)');
  // Hello waits for the runtime: from hello on the supervisor expects heartbeats, and the import
  // holds the event loop for most of a second at a time (far longer on a loaded machine).
  let createDriver: DriverFactory;
  try {
    ({ createVoiceDriver: createDriver } = await sessionRuntime);
  } catch (err) {
    await bus.close();
    throw err;
  }
  const service = new WorkerService({
    bus,
    pool: opts.pool,
    workerId,
    capacity: opts.capacity,
    drainTimeoutMs: opts.drainTimeoutMs ?? 30_000,
    log,
    createDriver,
    vadLoads: vadLoadCount,
    prewarm: async (agents) => {
      const started = performance.now();
      boot.mark('welcomed');
      const loaded = vad.then(({ ms }) => {
        log.info({ ms: Math.round(ms) }, 'Silero VAD loaded (shared by every session on this worker)');
      });
      // The agent modules load after the session runtime: they share its @livekit/agents, and the
      // module hooks they need (the agents-js shim, tsx) would slow every import after them.
      await Promise.all([loaded, prewarmAgents(agents, log).then(() => boot.mark('agents'))]);
      boot.mark('prewarmed');
      log.info({ sinceStartMs: boot.marks, originMs: Math.round(boot.originMs) }, 'worker boot timeline');
      return { ms: performance.now() - started };
    },
  });

  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'draining');
    service.drain();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let parentWatch: NodeJS.Timeout | undefined;
  if (opts.parentPid) {
    const parent = opts.parentPid;
    parentWatch = setInterval(() => {
      if (isAlive(parent)) return;
      log.warn({ parentPid: parent }, 'supervisor process is gone; draining so no orphan runs forever');
      clearInterval(parentWatch);
      service.drain();
    }, 1000);
    parentWatch.unref();
  }

  service.start();
  const output = await service.done;
  clearInterval(parentWatch);
  await service.stop();
  await bus.close();
  if (output.state === 'failed') {
    log.error({ failure: output.failure }, 'worker failed');
    return WORKER_EXIT.failed;
  }
  log.info('worker stopped');
  return WORKER_EXIT.stopped;
}

/**
 * When each step of the worker's start ended, in ms since the process started (performance.now()):
 * logged once, just before `ready`, with `originMs`, the process's start on the monotonic clock
 * that CPU profiles time their samples by (bench/profile/worker-boot-profile.ts lines them up).
 */
function bootTimeline() {
  const marks: Record<string, number> = { main: Math.round(performance.now()) };
  return {
    marks,
    originMs: Number(process.hrtime.bigint() / 1000n) / 1000 - performance.now(),
    mark(step: string) {
      marks[step] = Math.round(performance.now());
    },
  };
}
