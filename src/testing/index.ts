/**
 * `openrtc/testing`: run your agents in a real pool from a test. A pool here is what `openrtc dev`
 * runs: a supervisor in the test's process, worker processes, and an embedded nats-server (on a
 * random loopback port; nats-server must be installed). Sessions use the local transport: audio
 * in from a WAV file or silence, no LiveKit room and no network.
 *
 * ```ts
 * import { runAgent } from 'openrtc/testing';
 * const outcome = await runAgent('./agents/hello.ts');
 * assert.equal(outcome.state, 'closed');
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { FINAL_SESSION_STATES, type LocalAudioInput, type MessageOf } from '../protocol/index.ts';
import { type DispatchBody, PoolClient, type SessionTransition } from '../runtime/client.ts';
import type { PoolDefaultsConfig } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { type PoolHandle, startPool } from '../runtime/pool.ts';

export type { SessionTransition } from '../runtime/client.ts';

export interface TestPoolOptions {
  /** A folder of agent modules, or the path of one module. */
  agents: string;
  /** Worker processes (default 1). */
  workers?: number;
  /** Sessions per worker (default 10). */
  capacity?: number;
  /** A NATS server to use instead of an embedded one. */
  nats?: string;
  /** Pool name (default: random, so tests sharing a NATS server do not meet). */
  pool?: string;
  /** How long the workers may take to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /** Log level of the supervisor and the workers (default: $OPENRTC_LOG_LEVEL, else 'warn'). */
  logLevel?: string;
  /** Pool defaults for agents that leave them unset (greeting, provider models, limits). */
  defaults?: PoolDefaultsConfig;
}

/** One session to ask for. Without `agent`, routing decides (room-name prefix, metadata, first agent). */
export interface TestDispatch {
  agent?: string;
  room?: string;
  /** Job metadata; an object is sent as JSON. */
  metadata?: string | Record<string, unknown>;
  /** What the session hears: a WAV file, or silence (default: 1 s of silence). */
  audio?: string | { silenceMs: number };
  /** Idempotency key (default: random). */
  jobId?: string;
}

export type FinalState = 'closed' | 'failed' | 'cancelled';

/** How a session ended, with every transition it went through. */
export interface SessionOutcome {
  session: string;
  agent: string;
  worker: string;
  state: FinalState;
  /** `code: message` of a failed session. */
  error?: string;
  /** The states in order, starting with the first one entered (e.g. prewarming … closed). */
  states: string[];
  transitions: SessionTransition[];
}

/** A dispatched session: its transitions so far, and its outcome once it ends. */
export interface TestSession {
  session: string;
  agent: string;
  worker: string;
  /** Transitions received so far, in order. */
  readonly transitions: readonly SessionTransition[];
  /** Resolves when the session ends; rejects after `timeoutMs` (default 30 s), naming its last state. */
  outcome(timeoutMs?: number): Promise<SessionOutcome>;
}

export interface TestPool {
  /** NATS URL of the pool (the embedded server's unless `nats` was given). */
  url: string;
  pool: string;
  /** Registered agent names. */
  agents: string[];
  client: PoolClient;
  handle: PoolHandle;
  dispatch(request?: TestDispatch): Promise<TestSession>;
  /** Dispatches and waits for the outcome. */
  run(request?: TestDispatch, timeoutMs?: number): Promise<SessionOutcome>;
  /** Drains the pool and stops its workers and NATS server. */
  stop(): Promise<void>;
}

const FINAL: ReadonlySet<string> = new Set(FINAL_SESSION_STATES);

function audioInput(audio: TestDispatch['audio']): LocalAudioInput | undefined {
  if (audio === undefined) return undefined;
  if (typeof audio === 'string') return { kind: 'wav', path: resolve(audio) };
  return { kind: 'silence', durationMs: audio.silenceMs };
}

/** Starts a pool on `agents` and waits until its workers are ready. */
export async function startTestPool(opts: TestPoolOptions): Promise<TestPool> {
  const level = opts.logLevel ?? process.env.OPENRTC_LOG_LEVEL ?? 'warn';
  const pool = opts.pool ?? `test-${randomBytes(4).toString('hex')}`;
  const log = createLogger({ level, base: { pool, role: 'supervisor' } });
  const workers = opts.workers ?? 1;
  const handle = await startPool({
    agentsDir: opts.agents,
    pool,
    workers,
    capacity: opts.capacity ?? 10,
    drainTimeoutMs: 5000,
    heartbeatMs: 1000,
    pretty: false,
    log,
    ...(opts.nats ? { nats: opts.nats } : {}),
    ...(opts.defaults ? { defaults: opts.defaults } : {}),
    workerEnv: {
      OPENRTC_LOG_LEVEL: level,
      // agents-js warns "slower than realtime" when audio is fed faster than real time.
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'error',
    },
  });
  let client: PoolClient | undefined;
  try {
    client = await PoolClient.connect({ url: handle.url, pool, log });
    await readyWorkers(client, workers, opts.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await client?.close();
    await handle.stop();
    throw err;
  }
  const c = client;
  const dispatch = (request: TestDispatch = {}) => dispatchSession(c, request);
  return {
    url: handle.url,
    pool,
    agents: handle.registry.map((a) => a.name),
    client: c,
    handle,
    dispatch,
    async run(request, timeoutMs) {
      return (await dispatch(request)).outcome(timeoutMs);
    },
    async stop() {
      await c.close();
      await handle.stop();
    },
  };
}

/**
 * Runs one session of one agent module in a pool of its own (one worker), and stops the pool:
 * the shortest test of an agent. Resolves with the outcome, whatever it is.
 */
export async function runAgent(
  module: string,
  request: TestDispatch & { timeoutMs?: number; pool?: Omit<TestPoolOptions, 'agents'> } = {},
): Promise<SessionOutcome> {
  const { timeoutMs, pool: poolOpts, ...dispatch } = request;
  const pool = await startTestPool({ ...poolOpts, agents: module });
  try {
    return await pool.run(dispatch, timeoutMs);
  } finally {
    await pool.stop();
  }
}

async function readyWorkers(client: PoolClient, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: MessageOf<'status.ok'> | undefined;
  for (;;) {
    last = await client.status(2000).catch(() => last);
    if ((last?.workers.filter((w) => w.state === 'ready').length ?? 0) >= n) return;
    if (Date.now() > deadline) {
      const seen = last?.workers.map((w) => `${w.worker}: ${w.state}`).join(', ') || 'none';
      throw new Error(`openrtc/testing: ${n} worker(s) not ready after ${timeoutMs} ms (workers: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dispatchSession(client: PoolClient, request: TestDispatch): Promise<TestSession> {
  const transitions: SessionTransition[] = [];
  // Subscribed before the dispatch goes out on the same connection, so no transition is missed.
  const follow = client.follow((t) => transitions.push(t));
  const audio = audioInput(request.audio);
  const metadata = typeof request.metadata === 'object' ? JSON.stringify(request.metadata) : request.metadata;
  const body: DispatchBody = {
    job: {
      id: request.jobId ?? randomUUID(),
      ...(request.room ? { room: request.room } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
    },
    ...(request.agent ? { agent: request.agent } : {}),
    ...(audio ? { audio } : {}),
  };
  let ok: MessageOf<'dispatch.ok'>;
  try {
    ok = await client.dispatch(body);
  } catch (err) {
    follow.sub.unsubscribe();
    throw err;
  }
  follow.track(ok.session);
  let outcome: Promise<SessionOutcome> | undefined;
  return {
    session: ok.session,
    agent: ok.agent,
    worker: ok.worker,
    transitions,
    outcome(timeoutMs = 30_000) {
      outcome ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const lastState = transitions.at(-1)?.to ?? 'none';
            reject(
              new Error(
                `openrtc/testing: session ${ok.session} (${ok.agent}) did not end within ${timeoutMs} ms; last state: ${lastState}`,
              ),
            );
          }, timeoutMs);
        });
        try {
          const final = await Promise.race([follow.done, timeout]);
          const error = final.summary.error;
          return {
            session: ok.session,
            agent: ok.agent,
            worker: ok.worker,
            state: (FINAL.has(final.to) ? final.to : 'failed') as FinalState,
            ...(typeof error === 'string' ? { error } : {}),
            states: [...(transitions[0]?.from ? [transitions[0].from] : []), ...transitions.map((t) => t.to)],
            transitions: [...transitions],
          };
        } finally {
          clearTimeout(timer);
          follow.sub.unsubscribe();
        }
      })();
      return outcome;
    },
  };
}
