import { createActor, SimulatedClock } from 'xstate';
import {
  type SupervisorEmitted,
  type SupervisorEvent,
  type SupervisorInput,
  supervisorMachine,
} from '../../src/actors/supervisor.machine.ts';
import type {
  EndedSession,
  Outcome,
  SessionState,
  SessionSummary,
  WorkerState,
} from '../../src/protocol/index.ts';

type Emitted<T extends SupervisorEmitted['type']> = Extract<SupervisorEmitted, { type: T }>;

export const REGISTRY = [
  { name: 'restaurant', module: './agents/restaurant.ts' },
  { name: 'dental', module: './agents/dental.ts' },
];

/** A supervisor actor on a simulated clock, with every emitted event recorded. */
export function pool(input: Partial<SupervisorInput> = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(supervisorMachine, {
    clock,
    input: { pool: 'test', registry: REGISTRY, heartbeatMs: 1000, ...input },
  });
  const emitted: SupervisorEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const now = () => clock.now();
  const send = (e: SupervisorEvent) => actor.send(e);
  const ctx = () => actor.getSnapshot().context;
  let requests = 0;

  const api = {
    actor,
    clock,
    emitted,
    ctx,
    send,
    of<T extends SupervisorEmitted['type']>(type: T): Emitted<T>[] {
      return emitted.filter((e): e is Emitted<T> => e.type === type);
    },
    /**
     * Moves the simulated clock in small steps, as real time passes: a SimulatedClock that jumps
     * runs a periodic timer once per jump, where real time would run it once per period. The
     * `alive` workers send a heartbeat every second meanwhile.
     */
    advance(ms: number, alive: readonly string[] = []) {
      for (let left = ms; left > 0; left -= 100) {
        clock.increment(Math.min(100, left));
        if (clock.now() % 1000 !== 0) continue;
        for (const id of alive) {
          const epoch = ctx().workers[id]?.epoch;
          if (epoch) api.heartbeat(id, epoch);
        }
      }
    },
    hello(
      worker: string,
      epoch: string,
      opts: { capacity?: number; sessions?: SessionSummary[]; pid?: number; ended?: EndedSession[] } = {},
    ) {
      send({
        type: 'WORKER_HELLO',
        now: now(),
        worker,
        epoch,
        pid: opts.pid ?? 4242,
        host: 'test-host',
        capacity: opts.capacity ?? 4,
        versions: { min: 1, max: 1 },
        sessions: opts.sessions ?? [],
        ...(opts.ended ? { ended: opts.ended } : {}),
      });
    },
    heartbeat(
      worker: string,
      epoch: string,
      opts: {
        state?: WorkerState;
        sessions?: SessionSummary[];
        capacity?: number;
        ended?: EndedSession[];
      } = {},
    ) {
      send({
        type: 'HEARTBEAT',
        now: now(),
        worker,
        epoch,
        state: opts.state ?? 'ready',
        active: opts.sessions?.length ?? 0,
        capacity: opts.capacity ?? 4,
        rssBytes: 100_000_000,
        prewarm: { status: 'ok', ms: 61 },
        sessions: opts.sessions ?? [],
        ...(opts.ended ? { ended: opts.ended } : {}),
      });
    },
    /** Hello plus a first heartbeat: the worker is ready. */
    join(worker: string, epoch: string, capacity = 4) {
      api.hello(worker, epoch, { capacity });
      api.heartbeat(worker, epoch, { capacity });
    },
    dispatch(
      opts: {
        agent?: string;
        job?: { id?: string; room?: string; metadata?: string };
        sessionId?: string;
      } = {},
    ) {
      requests += 1;
      const requestId = `r${requests}`;
      send({
        type: 'DISPATCH',
        now: now(),
        requestId,
        sessionId: opts.sessionId ?? `s${requests}`,
        ...(opts.agent ? { agent: opts.agent } : {}),
        ...(opts.job ? { job: opts.job } : {}),
      });
      const result = api.of('dispatch.result').find((r) => r.requestId === requestId);
      if (!result) throw new Error(`no dispatch.result for ${requestId}`);
      return result;
    },
    sessionState(session: string, worker: string, epoch: string, state: SessionState, seq: number) {
      send({ type: 'SESSION_STATE', now: now(), session, worker, epoch, state, seq });
    },
    exit(worker: string, code: number | null = 1, signal: string | null = null, pid?: number) {
      send({
        type: 'WORKER_EXITED',
        now: now(),
        worker,
        code,
        signal,
        ...(pid !== undefined ? { pid } : {}),
      });
    },
    /** The runtime started the process a `worker.spawn` asked for. */
    spawned(worker: string, pid: number) {
      send({ type: 'WORKER_SPAWNED', now: now(), worker, pid });
    },
  };
  return api;
}

/** A worker's record of an ended session. */
export function endedRecord(
  session: string,
  outcome: Outcome,
  seq: number,
  endedAt: number,
  extra: Partial<EndedSession> = {},
): EndedSession {
  return { session, agent: 'dental', jobId: `job-${session}`, seq, outcome, endedAt, ...extra };
}

export function summary(session: string, state: SessionState, seq: number, agent = 'dental'): SessionSummary {
  return { session, agent, state, seq, since: 0, jobId: `job-${session}` };
}
