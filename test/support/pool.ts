import { fileURLToPath } from 'node:url';
import { PoolClient } from '../../src/runtime/client.ts';
import { type PoolHandle, type PoolOptions, startPool } from '../../src/runtime/pool.ts';
import { captureLog } from './log.ts';
import { testOutput } from './output.ts';
import { waitFor } from './wait.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EXAMPLE_AGENTS = `${ROOT}examples/agents`;
export const AUDIO = {
  restaurant: `${ROOT}assets/audio/restaurant.wav`,
  dental: `${ROOT}assets/audio/dental.wav`,
};

export interface TestPool {
  pool: PoolHandle;
  client: PoolClient;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** A real pool: the supervisor in this process, real worker processes, a real nats-server. */
export async function startTestPool(nats: string, opts: Partial<PoolOptions> = {}): Promise<TestPool> {
  const name = opts.pool ?? `t${Math.random().toString(36).slice(2, 8)}`;
  const { log, lines } = captureLog({ pool: name });
  const pool = await startPool({
    agentsDir: EXAMPLE_AGENTS,
    nats,
    pool: name,
    workers: 2,
    capacity: 10,
    drainTimeoutMs: 5000,
    // The production heartbeat; only tests about heartbeats shorten it, and say why.
    heartbeatMs: 1000,
    pretty: false,
    log,
    workerOutput: (chunk) => testOutput.write(chunk),
    workerEnv: {
      // Kept in the test's output buffer, shown only if the test fails.
      OPENRTC_LOG_LEVEL: process.env.OPENRTC_TEST_WORKER_LOG ?? 'info',
      // agents-js warns that fast-fed VAD runs "slower than realtime"; in tests that is the point.
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_TEST_AGENTS_LOG ?? 'error',
    },
    ...opts,
  });
  const client = await PoolClient.connect({ url: nats, pool: name, log });
  return {
    pool,
    client,
    lines,
    async stop() {
      await client.close();
      await pool.stop();
    },
  };
}

/** Waits until `n` workers report `ready`; returns them. */
export async function readyWorkers(client: PoolClient, n: number, timeoutMs = 30_000) {
  return waitFor(
    `${n} ready workers`,
    async (note) => {
      const s = await client.status(1000);
      note(s.workers.map((w) => `${w.worker}:${w.state}`));
      // Serving workers: a hot spare is ready too, but takes no sessions.
      const ready = s.workers.filter((w) => w.state === 'ready' && !w.spare);
      return ready.length >= n ? ready : undefined;
    },
    timeoutMs,
    100,
  );
}

/**
 * Cancels a session on its worker directly (`session.cancel` on the worker's command subject), as
 * a test does when no supervisor runs or to end a session it no longer needs. Resolves with the
 * worker's reply.
 */
export function cancelOnWorker(
  client: PoolClient,
  placed: { session: string; worker: string },
  reason?: string,
  timeoutMs = 5000,
) {
  return client.bus.request(
    client.subjects.workerCmd(placed.worker),
    client.bus.make('session.cancel', { session: placed.session, ...(reason ? { reason } : {}) }),
    timeoutMs,
  );
}

/**
 * Waits until the supervisor's status shows every one of `sessions` in `state` (or matching
 * `check`); returns that status.
 */
export async function sessionsReach(
  client: PoolClient,
  sessions: readonly { session: string }[],
  state: string | ((s: Awaited<ReturnType<PoolClient['status']>>['sessions'][number]) => boolean),
  timeoutMs = 20_000,
) {
  const ok = typeof state === 'string' ? (x: { state: string }) => x.state === state : state;
  return waitFor(
    `${sessions.length} session(s) ${typeof state === 'string' ? state : 'matching'}`,
    async (note) => {
      const s = await client.status(1000);
      note(
        sessions.map(
          (p) => `${p.session}:${s.sessions.find((y) => y.session === p.session)?.state ?? 'unknown'}`,
        ),
      );
      return sessions.every((p) => {
        const x = s.sessions.find((y) => y.session === p.session);
        return x !== undefined && ok(x);
      })
        ? s
        : undefined;
    },
    timeoutMs,
    50,
  );
}
