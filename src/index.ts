/**
 * `openrtc`: define agents, and run pools, workers and clients from code.
 *
 * An agent module imports only `defineAgent` from here, so this module stays light: the pool,
 * worker and client functions load the runtime on their first call.
 */
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import type { PoolClient } from './runtime/client.ts';
import type { Logger } from './runtime/logger.ts';
import type { PoolHandle, PoolOptions } from './runtime/pool.ts';
import type { WorkerOptions } from './runtime/worker/run.ts';

export {
  type AgentClass,
  type AgentDefinition,
  AgentDefinitionError,
  type AgentProviders,
  type DefinedAgent,
  defineAgent,
  type Factory,
  isDefinedAgent,
  type PoolDefaults,
  type Provider,
  type SessionExtras,
} from './runtime/agents/define.ts';
export type { DispatchBody, PoolClient, SessionTransition } from './runtime/client.ts';
export type { Logger } from './runtime/logger.ts';
export type { PoolHandle, PoolOptions } from './runtime/pool.ts';
export type { WorkerOptions } from './runtime/worker/run.ts';

/** What `startPool` needs: the agents; everything else has the CLI's defaults. */
export type StartPoolOptions = Partial<PoolOptions> & Pick<PoolOptions, 'agentsDir'>;

async function poolOptions(opts: StartPoolOptions): Promise<PoolOptions> {
  const { availableParallelism } = await import('node:os');
  return {
    pool: 'default',
    workers: availableParallelism(),
    capacity: 25,
    drainTimeoutMs: 30_000,
    heartbeatMs: 1000,
    pretty: false,
    ...opts,
  };
}

/**
 * Starts a pool in this process: a supervisor, `workers` local worker processes, and an embedded
 * nats-server unless `nats` is given. `agentsDir` is a folder of agent modules, or one module.
 * Resolves once the supervisor runs (workers become ready shortly after); `stop()` drains it.
 */
export async function startPool(opts: StartPoolOptions): Promise<PoolHandle> {
  const { startPool: start } = await import('./runtime/pool.ts');
  return start(await poolOptions(opts));
}

/** `openrtc dev|start|supervisor`: runs a pool until SIGINT/SIGTERM, then drains; resolves with the exit code. */
export async function runPool(opts: StartPoolOptions): Promise<number> {
  const { runPool: run } = await import('./runtime/pool.ts');
  return run(await poolOptions(opts));
}

/** `openrtc worker`: joins a pool over NATS and hosts sessions until drained; resolves with the exit code. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const { runWorker: run } = await import('./runtime/worker/run.ts');
  return run(opts);
}

/** A client of a running pool (dispatch, status, follow a session), as `openrtc dispatch` uses. */
export async function connectPool(opts: {
  url: string;
  pool?: string;
  log?: Logger;
  natsAuth?: Partial<NodeConnectionOptions>;
}): Promise<PoolClient> {
  const [{ PoolClient: Client }, { createLogger }] = await Promise.all([
    import('./runtime/client.ts'),
    import('./runtime/logger.ts'),
  ]);
  return Client.connect({
    url: opts.url,
    pool: opts.pool ?? 'default',
    log: opts.log ?? createLogger({ level: 'warn' }),
    ...(opts.natsAuth ? { natsAuth: opts.natsAuth } : {}),
  });
}
