import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import type { SessionView, SupervisorInput } from '../actors/supervisor.types.ts';
import type { AgentSpec } from '../protocol/index.ts';
import { discoverAgents } from './agents/load.ts';
import { applyPoolDefaults, type PoolDefaultsConfig } from './config.ts';
import { type PoolSinkOptions, type PoolSinks, startPoolSinks } from './inspect/sinks.ts';
import { LiveKitDispatcher } from './livekit/dispatcher.ts';
import type { LiveKitOptions } from './livekit/options.ts';
import { createLogger, type Logger } from './logger.ts';
import { natsInboxPrefix } from './nats/auth.ts';
import { Bus } from './nats/bus.ts';
import { type RunningNatsServer, startNatsServer } from './nats/server.ts';
import { Lease, type LeaseOptions } from './ops/lease.ts';
import { loadObservers, SessionObservers } from './ops/observers.ts';
import { DurableRecord, type RecordOptions } from './ops/record.ts';
import { RolloutQueue, watchAgents } from './ops/reload.ts';
import { ProcessSpawner } from './spawner.ts';
import { type RolloutOutcome, SUPERVISOR_ID, SupervisorService } from './supervisor/service.ts';

export interface PoolOptions extends PoolSinkOptions {
  agentsDir: string;
  /** NATS URL; absent → an embedded nats-server on a random loopback port. */
  nats?: string;
  pool: string;
  /** Local worker processes to spawn (0: remote workers only). */
  workers: number;
  /**
   * Hot spares: prewarmed local worker processes that take no sessions until a worker is lost, when
   * one takes its place at once (and a new spare boots in the background). Default 0.
   */
  spares?: number;
  capacity: number;
  drainTimeoutMs: number;
  heartbeatMs: number;
  /** Local workers' `--heap-growth` (V8 heap headroom over live data, percent); absent: V8's. */
  workerHeapGrowth?: number;
  pretty: boolean;
  log?: Logger;
  policy?: SupervisorInput['policy'];
  /** Greeting, limits and provider models for agents that leave them unset (`--config`, flags). */
  defaults?: PoolDefaultsConfig;
  /** NATS credentials/TLS of the supervisor (see docs/security.md). */
  natsAuth?: Partial<NodeConnectionOptions>;
  /** Extra environment for local workers (e.g. OPENRTC_LOG_LEVEL, NATS_* credentials). */
  workerEnv?: NodeJS.ProcessEnv;
  /** Where local workers' stdout and stderr go; absent: this process's stderr. */
  workerOutput?: (chunk: Buffer) => void;
  /** Take jobs from a LiveKit server as an agent worker (docs/livekit.md); absent: no LiveKit. */
  livekit?: LiveKitOptions;
  /** Caps, circuit breaker and session observers (docs/operations.md). */
  operations?: OperationsOptions;
  /** Watch the agents folder and roll out a new generation on every change (`openrtc dev`). */
  watch?: boolean;
}

export interface OperationsOptions {
  limits?: SupervisorInput['limits'];
  breaker?: SupervisorInput['breaker'];
  /** Observer module files (absolute). */
  observers?: string[];
  /** Retention of the durable record of ended sessions (JetStream); false: none. */
  record?: RecordOptions | false;
  /** Wait for the leadership lease as long as it takes, then lead (`openrtc supervisor --standby`). */
  standby?: boolean;
  /** The leadership lease (JetStream KV); false: no lease, no terms (one supervisor only). */
  lease?: LeaseOptions | false;
  /** Called once if this supervisor loses its lease (it has stopped commanding workers by then). */
  onLeadershipLost?: (reason: string) => void;
}

/** A running pool: a supervisor in this process, local worker processes, maybe an embedded NATS. */
export interface PoolHandle {
  url: string;
  pool: string;
  registry: AgentSpec[];
  service: SupervisorService;
  spawner: ProcessSpawner;
  log: Logger;
  embedded?: RunningNatsServer;
  /** Metrics and web inspector started with the pool (see PoolSinkOptions). */
  sinks: PoolSinks;
  /** The LiveKit dispatcher, when `livekit` was given. */
  livekit?: LiveKitDispatcher;
  /**
   * A rolling upgrade (docs/operations.md): new local workers with the code on disk; once all are
   * ready, the older generation drains. Rollouts asked for meanwhile run after it, as one.
   */
  rollout(reason: string): Promise<RolloutOutcome>;
  /** Drains the pool (sessions finish up to the drain timeout), stops workers, then NATS. */
  stop(): Promise<void>;
}

/** Starts a supervisor and its local workers. */
export async function startPool(opts: PoolOptions): Promise<PoolHandle> {
  const log =
    opts.log ?? createLogger({ pretty: opts.pretty, base: { pool: opts.pool, role: SUPERVISOR_ID } });
  const agentsDir = resolve(opts.agentsDir);
  const discovered = await discoverAgents(agentsDir);
  for (const e of discovered.errors) log.error({ file: e.file, err: e.message }, 'agent not loaded');
  const registry = applyPoolDefaults(discovered.agents, opts.defaults);
  log.info(
    { count: registry.length, agents: registry.map((a) => a.name), dir: agentsDir },
    'agents registered',
  );

  let embedded: RunningNatsServer | undefined;
  let url = opts.nats;
  if (!url) {
    embedded = await startNatsServer();
    url = embedded.url;
    log.info({ url, pid: embedded.pid }, 'embedded nats-server started');
  }
  const natsUrl = url;
  const ops = opts.operations ?? {};
  // Before anything starts: an observer that does not load is an error naming its file.
  const observers = new SessionObservers(
    await loadObservers(ops.observers ?? []),
    opts.pool,
    log,
    ops.limits?.tenantKey,
  );
  const bus = await Bus.connect({
    url: natsUrl,
    name: 'openrtc-supervisor',
    self: SUPERVISOR_ID,
    log,
    connect: { ...opts.natsAuth, inboxPrefix: natsInboxPrefix(opts.pool, { kind: 'supervisor' }) },
  });
  const { lease, term } = await lead(bus, opts.pool, log, ops).catch(async (err: unknown) => {
    await bus.close();
    await embedded?.stop();
    throw err;
  });
  const record = await openRecord(bus, opts.pool, log, ops.record);
  const restored = record ? await loadRecord(record, log) : [];
  const spawner = new ProcessSpawner();
  // Ids are unique per supervisor incarnation: workers left draining by a dead supervisor must
  // never share a command subject with the new supervisor's workers.
  const incarnation = randomBytes(2).toString('hex');
  // Generation 1 is `w1-<incarnation>`; a rollout's generation g is `w1-<incarnation>-g<g>`.
  const generationWorkers = (generation: number) => {
    const tail = generation > 1 ? `-g${generation}` : '';
    return [
      ...Array.from({ length: opts.workers }, (_, i) => ({
        id: `w${i + 1}-${incarnation}${tail}`,
        capacity: opts.capacity,
      })),
      ...Array.from({ length: opts.spares ?? 0 }, (_, i) => ({
        id: `s${i + 1}-${incarnation}${tail}`,
        capacity: opts.capacity,
        spare: true,
      })),
    ];
  };
  const localWorkers = generationWorkers(1);
  const workerArgs = (id: string) => [
    '--nats',
    natsUrl,
    '--pool',
    opts.pool,
    '--id',
    id,
    '--capacity',
    String(opts.capacity),
    '--drain-timeout',
    String(opts.drainTimeoutMs),
    '--parent-pid',
    String(process.pid),
    ...(opts.workerHeapGrowth !== undefined ? ['--heap-growth', String(opts.workerHeapGrowth)] : []),
    ...(opts.pretty ? [] : ['--json-logs']),
  ];
  const service: SupervisorService = new SupervisorService({
    bus,
    pool: opts.pool,
    registry,
    localWorkers,
    rolloutWorkers: generationWorkers,
    heartbeatMs: opts.heartbeatMs,
    drainTimeoutMs: opts.drainTimeoutMs,
    log,
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(ops.limits ? { limits: ops.limits } : {}),
    ...(ops.breaker ? { breaker: ops.breaker } : {}),
    ...(term !== undefined ? { term } : {}),
    ...(record
      ? {
          restored,
          historyFallback: async (session: string) => {
            const entry = await record.get(session);
            if (!entry) return undefined;
            const { view, history } = entry;
            return history ?? { session, worker: view.worker, ended: true, dropped: 0, transitions: [] };
          },
        }
      : {}),
    spawnWorker: (id) =>
      spawner.spawn({
        worker: id,
        args: workerArgs(id),
        log,
        ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
        ...(opts.workerOutput ? { output: opts.workerOutput } : {}),
        onExit: (e) => service.workerExited(e.worker, e.pid, e.code, e.signal),
      }),
    killWorker: (id, signal) => spawner.kill(id, signal),
  });
  // Sinks first: a taken metrics port fails the start before any worker is spawned.
  const sinks = await startPoolSinks(
    {
      service,
      registeredAgents: registry.length,
      url: natsUrl,
      pool: opts.pool,
      log,
      natsAuth: opts.natsAuth,
    },
    opts,
  );
  observers.attach(service.actor);
  record?.attach(service.actor, service.history);
  // Losing the lease: another supervisor leads now. Stop commanding at once (close the bus).
  lease?.keep((reason) => {
    void bus.close();
    ops.onLeadershipLost?.(reason);
  });
  service.start();
  const livekit = opts.livekit ? new LiveKitDispatcher(service, registry, opts.livekit, log) : undefined;
  livekit?.start();
  const rollouts = new RolloutQueue(() => service.rollout(), log);
  const unwatch = opts.watch
    ? watchAgents(agentsDir, (files) => void rollouts.request(`changed: ${files.join(', ')}`), log)
    : undefined;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      unwatch?.();
      livekit?.drain();
      service.drain();
      const deadline = opts.drainTimeoutMs + 10_000;
      await Promise.race([service.stopped, new Promise((r) => setTimeout(r, deadline).unref())]);
      await livekit?.stop(); // after the drain, so the last job statuses reach LiveKit
      await observers.settled();
      observers.close();
      await record?.flush();
      await lease?.release();
      await spawner.stopAll(5000);
      await sinks.stop();
      await bus.close();
      await embedded?.stop();
    })();
    return stopping;
  };
  return {
    url: natsUrl,
    pool: opts.pool,
    registry,
    service,
    spawner,
    log,
    ...(embedded ? { embedded } : {}),
    sinks,
    ...(livekit ? { livekit } : {}),
    rollout: (reason) => rollouts.request(reason),
    stop,
  };
}

/** `openrtc dev|start|supervisor`: runs a pool until SIGINT/SIGTERM, then drains; resolves with the exit code. */
export async function runPool(
  opts: PoolOptions,
  hooks: { running?: (pool: PoolHandle) => void; stopped?: (pool: PoolHandle) => void } = {},
): Promise<number> {
  const pool = await startPool(opts);
  hooks.running?.(pool);
  // SIGHUP: a rolling upgrade to the code on disk (docs/operations.md).
  const onHangup = () => void pool.rollout('SIGHUP');
  process.on('SIGHUP', onHangup);
  pool.log.info(
    { url: pool.url },
    `pool '${pool.pool}' running; try: openrtc dispatch --nats ${pool.url} --pool ${pool.pool} --agent ${pool.registry[0]?.name ?? '<name>'} --wait`,
  );
  await new Promise<void>((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals) => {
      pool.log.info({ signal }, 'draining the pool');
      resolveSignal();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  process.off('SIGHUP', onHangup);
  await pool.stop();
  hooks.stopped?.(pool);
  // The exit code tells how the drain went: 0 every session finished, 4 some were cut short
  // (adopted sessions included): a projection of the supervisor machine's snapshot.
  const { cut, sessions } = pool.service.drainReport();
  if (cut > 0) {
    pool.log.warn({ cut, sessions }, 'pool stopped; sessions did not finish within the drain timeout');
    return POOL_EXIT.drainCut;
  }
  pool.log.info('pool stopped; every session finished');
  return POOL_EXIT.drained;
}

/** Exit codes of `openrtc dev|start|supervisor` after SIGTERM/SIGINT. */
export const POOL_EXIT = { drained: 0, drainCut: 4 } as const;

/** Opens the durable record; without JetStream the pool runs on, remembering ended sessions in memory only. */
async function openRecord(
  bus: Bus,
  pool: string,
  log: Logger,
  opts: RecordOptions | false | undefined,
): Promise<DurableRecord | undefined> {
  if (opts === false) return undefined;
  try {
    return await DurableRecord.open(bus, pool, log, opts);
  } catch (err) {
    log.warn(
      { err: { message: (err as Error).message } },
      'durable record unavailable (does the nats-server run JetStream?): ended sessions are kept in memory only',
    );
    return undefined;
  }
}

/** The newest ended sessions of the durable record, for the supervisor's status and history. */
async function loadRecord(record: DurableRecord, log: Logger): Promise<SessionView[]> {
  try {
    const entries = await record.load(500);
    log.info({ sessions: entries.length, stream: record.stream }, 'durable record loaded');
    return entries.map((e) => e.view);
  } catch (err) {
    log.warn({ err: { message: (err as Error).message } }, 'durable record: load failed');
    return [];
  }
}

/**
 * Takes the pool's leadership lease: at once, or within two lease lifetimes (a supervisor killed
 * just before may still hold it); a standby waits as long as it takes. Without JetStream, or with
 * `lease: false`, there is no lease and no term.
 */
async function lead(
  bus: Bus,
  pool: string,
  log: Logger,
  ops: OperationsOptions,
): Promise<{ lease?: Lease; term?: number }> {
  if (ops.lease === false) return {};
  let lease: Lease;
  try {
    lease = await Lease.open(
      bus,
      pool,
      `${process.pid}-${randomBytes(3).toString('hex')}`,
      log,
      ops.lease ?? {},
    );
  } catch (err) {
    if (ops.standby)
      throw new Error(`--standby needs JetStream on the nats-server: ${(err as Error).message}`);
    log.warn(
      { err: { message: (err as Error).message } },
      'no leadership lease (does the nats-server run JetStream?)',
    );
    return {};
  }
  const holder = await lease.holder().catch(() => undefined);
  if (ops.standby)
    log.info({ bucket: lease.bucket, leader: holder?.id }, 'standby: waiting for the leadership lease');
  const term = await lease.acquire(
    ops.standby ? { pollMs: 100 } : { pollMs: 100, giveUpMs: lease.ttlMs * 2 + 1000 },
  );
  if (term === undefined) {
    throw new Error(
      `another supervisor leads pool ${pool} (lease ${lease.bucket}, holder ${holder?.id ?? 'unknown'}); start this one with --standby to take over when it is gone`,
    );
  }
  log.info(
    { term, bucket: lease.bucket },
    ops.standby ? 'standby took over: leading the pool' : 'leading the pool',
  );
  return { lease, term };
}
