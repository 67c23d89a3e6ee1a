import type { SupervisorInput } from '../../src/actors/supervisor.types.ts';
import type { Message, MessageOf } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import type { Logger } from '../../src/runtime/logger.ts';
import { type PoolHandle, startPool } from '../../src/runtime/pool.ts';
import { poolLog, ROOT } from './report.ts';

export const AGENTS_DIR = `${ROOT}examples/agents`;
/** The bundled speech (espeak-ng, 16 kHz mono): two and three utterances with 1 s gaps. */
export const AUDIO = {
  restaurant: `${ROOT}assets/audio/restaurant.wav`,
  dental: `${ROOT}assets/audio/dental.wav`,
} as const;

export type WorkerStatus = MessageOf<'status.ok'>['workers'][number];

export interface BenchPool {
  pool: PoolHandle;
  client: PoolClient;
  stop(): Promise<void>;
}

/** The real pool (supervisor here, worker processes spawned as `openrtc worker`) on a given NATS. */
export async function startBenchPool(o: {
  nats: string;
  name: string;
  workers: number;
  /** Hot spare workers (default 0). */
  spares?: number;
  capacity: number;
  heartbeatMs?: number;
  drainTimeoutMs?: number;
  log?: Logger;
  policy?: SupervisorInput['policy'];
  /** Extra environment for the worker processes. */
  workerEnv?: NodeJS.ProcessEnv;
}): Promise<BenchPool> {
  const log = o.log ?? poolLog({ pool: o.name, role: 'supervisor' });
  const pool = await startPool({
    agentsDir: AGENTS_DIR,
    nats: o.nats,
    pool: o.name,
    workers: o.workers,
    ...(o.spares ? { spares: o.spares } : {}),
    capacity: o.capacity,
    drainTimeoutMs: o.drainTimeoutMs ?? 2000,
    heartbeatMs: o.heartbeatMs ?? 1000,
    pretty: false,
    log,
    workerEnv: {
      OPENRTC_LOG_LEVEL: process.env.OPENRTC_LOG_LEVEL ?? 'warn',
      // agents-js logs to stdout, and workers inherit the supervisor's stdout: keep it for the JSON line.
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'silent',
      ...o.workerEnv,
    },
    ...(o.policy ? { policy: o.policy } : {}),
  });
  const client = await PoolClient.connect({ url: o.nats, pool: o.name, log, id: `bench-${o.name}` });
  return {
    pool,
    client,
    async stop() {
      await client.close();
      await pool.stop();
    },
  };
}

/** Polls status until `n` workers are `ready`; returns them. */
export async function waitReady(client: PoolClient, n: number, timeoutMs = 60_000): Promise<WorkerStatus[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await client.status(2000).catch(() => undefined);
    const ready = s?.workers.filter((w) => w.state === 'ready') ?? [];
    if (ready.length >= n) return ready;
    if (Date.now() > deadline) throw new Error(`${ready.length}/${n} workers ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Inspect = MessageOf<'inspect'>;

/** When (performance.now() in this process) a session was first seen entering a state. */
export interface SeenSession {
  session: string;
  room?: string;
  worker?: string;
  /** state → first arrival time here, and the sender's envelope ts (ms since epoch). */
  states: Map<string, { at: number; ts: number; event: string; error?: string }>;
}

/**
 * Follows every session and worker transition a client can see (the inspect subjects), and
 * timestamps each on arrival; waiters are woken on every event, never by polling.
 */
export class InspectWatch {
  readonly sessions = new Map<string, SeenSession>();
  readonly byRoom = new Map<string, string>();
  readonly workers: { worker: string; pid: number; to: string; at: number; ts: number }[] = [];
  readonly speech: { session: string; kind: string; atMs: number; arrived: number; ts: number }[] = [];
  private waiters = new Set<() => void>();
  private readonly subs: { unsubscribe(): void }[] = [];

  constructor(client: PoolClient, opts: { speech?: boolean } = {}) {
    const s = client.subjects;
    this.subs.push(client.bus.subscribe(s.inspectAll, (m) => this.onInspect(m)));
    if (opts.speech) {
      this.subs.push(
        client.bus.subscribe(s.eventsAll, (m: Message) => {
          if (m.type !== 'session.speech') return;
          this.speech.push({
            session: m.session,
            kind: m.kind,
            atMs: m.atMs,
            arrived: performance.now(),
            ts: m.ts,
          });
          this.wake();
        }),
      );
    }
  }

  /** Resolves with `check()`'s value once it is truthy; re-checked on every event. */
  until<T>(what: string, check: () => T | undefined | false, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const v = check();
        if (!v) return false;
        this.waiters.delete(attempt);
        clearTimeout(timer);
        resolve(v);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(attempt);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      if (!attempt()) this.waiters.add(attempt);
    });
  }

  state(session: string, state: string) {
    return this.sessions.get(session)?.states.get(state);
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  private onInspect(m: Message): void {
    if (m.type !== 'inspect') return;
    const at = performance.now();
    const i = m as Inspect;
    if (i.actor.kind === 'worker') {
      this.workers.push({ worker: i.actor.id, pid: i.pid, to: i.toState, at, ts: i.ts });
    } else if (i.actor.kind === 'session') {
      let seen = this.sessions.get(i.actor.id);
      if (!seen) {
        seen = { session: i.actor.id, states: new Map() };
        this.sessions.set(i.actor.id, seen);
      }
      const room = i.summary.room;
      if (typeof room === 'string') {
        seen.room = room;
        this.byRoom.set(room, i.actor.id);
      }
      if (typeof i.summary.worker === 'string') seen.worker = i.summary.worker;
      if (!seen.states.has(i.toState)) {
        const error = typeof i.summary.error === 'string' ? i.summary.error : undefined;
        seen.states.set(i.toState, { at, ts: i.ts, event: i.event, ...(error ? { error } : {}) });
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
