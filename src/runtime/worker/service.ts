import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Actor, createActor, fromPromise } from 'xstate';
import { workerMachine } from '../../actors/worker.machine.ts';
import type { PrewarmDone, Welcome, WorkerOutput } from '../../actors/worker.types.ts';
import {
  type AgentSpec,
  ENDED_RECORD_LIMIT,
  type EndedSession,
  type ErrorData,
  FINAL_SESSION_STATES,
  type Message,
  type MessageOf,
  type Reply,
  SUPPORTED_VERSIONS,
  type Subjects,
  subjects,
} from '../../protocol/index.ts';
import { InspectPublisher } from '../inspect/publisher.ts';
import type { Logger } from '../logger.ts';
import {
  type Bus,
  NatsUnavailableError,
  NoRespondersError,
  RequestFailedError,
  RequestTimeoutError,
} from '../nats/bus.ts';
import type { DriverFactory } from './driver.ts';
import { HostedSession } from './hosted-session.ts';

export interface WorkerServiceOptions {
  bus: Bus;
  pool: string;
  workerId: string;
  capacity: number;
  drainTimeoutMs: number;
  log: Logger;
  createDriver: DriverFactory;
  /** Loads the shared models once (Silero VAD). */
  prewarm: (agents: AgentSpec[]) => Promise<{ ms: number }>;
  /** How many times this process has loaded the VAD model, reported in heartbeats. */
  vadLoads?: () => number;
  /**
   * How many ended sessions are remembered (at most ENDED_RECORD_LIMIT, for at most 10 minutes):
   * a repeated session.start is answered the same, and hello and heartbeats report them.
   */
  endedMemory?: number;
}

const HELLO_TIMEOUT_MS = 2000;
/** How long an ended session stays in the worker's record. */
const ENDED_KEEP_MS = 10 * 60_000;
/** A heartbeat repeats the sessions that ended within this many beats. */
const ENDED_IN_BEATS = 5;
/** Error messages in the ended record are cut to this length, so a full hello stays well under NATS's payload limit. */
const ENDED_MESSAGE_MAX = 200;

/**
 * A worker process's logic: says hello, prewarms once, hosts sessions on command, reports their
 * transitions and its full state every heartbeat.
 */
export class WorkerService {
  /** This incarnation: the supervisor ignores messages from an older epoch of the same worker id. */
  readonly epoch = randomUUID().slice(0, 8);
  readonly sessions = new Map<string, HostedSession>();
  /** The bounded record of ended sessions, oldest first: reported in hello and (recent ones) heartbeats. */
  private readonly ended = new Map<string, EndedSession>();
  /** When this process's NATS link went down, if it is down: ends since then are repeated when it returns. */
  private linkDownAt: number | null = null;
  private readonly s: Subjects;
  private readonly actor: Actor<typeof workerMachine>;
  private agents = new Map<string, AgentSpec>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatMs = 1000;
  private prewarmInfo: MessageOf<'heartbeat'>['prewarm'] = { status: 'pending' };
  readonly done: Promise<WorkerOutput>;
  private readonly inspector: InspectPublisher;

  constructor(private readonly o: WorkerServiceOptions) {
    this.s = subjects(o.pool);
    this.inspector = new InspectPublisher(o.bus, o.pool, o.workerId);
    const machine = workerMachine.provide({
      actors: {
        register: fromPromise(() => this.register()),
        prewarm: fromPromise<PrewarmDone, { workerId: string }>(async () => {
          try {
            const r = await o.prewarm([...this.agents.values()]);
            this.prewarmInfo = { status: 'ok', ms: r.ms };
            return r;
          } catch (err) {
            this.prewarmInfo = {
              status: 'failed',
              error: { code: 'prewarm_failed', message: String((err as Error)?.message ?? err) },
            };
            throw err;
          }
        }),
      },
      actions: {
        cancelSessions: (_, params: { sessionIds: string[] }) => {
          for (const id of params.sessionIds) this.sessions.get(id)?.cancel('drain timeout');
        },
      },
    });
    this.actor = createActor(machine, {
      id: o.workerId,
      input: { workerId: o.workerId, capacity: o.capacity, drainTimeoutMs: o.drainTimeoutMs },
    });
    this.done = new Promise((resolve) => {
      this.actor.subscribe({ complete: () => resolve(this.actor.getSnapshot().output as WorkerOutput) });
    });
    this.actor.on('worker.transition', (t) => {
      this.o.log.info(
        { from: t.from, to: t.to, event: t.event, ...(t.failure ? { failure: t.failure } : {}) },
        'worker transition',
      );
      this.inspector.publish({
        actor: { id: o.workerId, kind: 'worker' },
        from: t.from,
        to: t.to,
        event: t.event,
        seq: t.seq,
        summary: t.failure ? { error: t.failure.message } : {},
      });
      if (
        t.to === 'ready' ||
        t.to === 'full' ||
        t.to === 'draining' ||
        t.to === 'stopped' ||
        t.to === 'failed'
      ) {
        this.publish(
          this.o.bus.make('worker.state', {
            worker: o.workerId,
            epoch: this.epoch,
            state: t.to,
            ...(t.failure ? { reason: { code: t.failure.code, message: t.failure.message } } : {}),
          }),
        );
      }
      if (t.to === 'ready' && !this.heartbeatTimer) this.startHeartbeat();
    });
  }

  get state() {
    return this.actor.getSnapshot().context.state;
  }

  /** Subscribes to commands and starts the worker machine. */
  start(): void {
    const { bus } = this.o;
    bus.subscribe(this.s.workerCmd(this.o.workerId), (msg) => this.onCommand(msg));
    bus.subscribe(this.s.broadcast, (msg) => {
      // A (re)started supervisor asks everyone to say hello again, so it can re-adopt sessions.
      if (msg.type === 'supervisor.up' && this.heartbeatTimer) void this.hello().catch(() => {});
    });
    // Back from a NATS outage: report the full state at once, so the supervisor reconciles now.
    bus.onLink((up) => {
      if (!up) this.linkDownAt ??= Date.now();
      if (up && this.heartbeatTimer) this.heartbeat();
      if (up) this.linkDownAt = null;
    });
    this.actor.start();
    this.actor.send({ type: 'STARTED' });
  }

  /** Graceful drain: refuse new sessions, let running ones finish up to the timeout. */
  drain(timeoutMs = this.o.drainTimeoutMs): void {
    this.actor.send({ type: 'DRAIN', timeoutMs });
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeat();
  }

  private async register(): Promise<Welcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.hello();
      } catch (err) {
        if (
          err instanceof RequestTimeoutError ||
          err instanceof NoRespondersError ||
          err instanceof NatsUnavailableError
        ) {
          if (attempt === 1 || attempt % 10 === 0)
            this.o.log.warn({ attempt, err: err.error }, 'waiting for a supervisor');
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
          continue;
        }
        throw err instanceof RequestFailedError ? err.error : err;
      }
    }
  }

  private async hello(): Promise<Welcome> {
    const { bus, workerId } = this.o;
    const reply = await bus.request(
      this.s.hello(workerId),
      bus.make('hello', {
        worker: workerId,
        epoch: this.epoch,
        pid: process.pid,
        host: hostname(),
        capacity: this.o.capacity,
        versions: { ...SUPPORTED_VERSIONS },
        sessions: [...this.sessions.values()].map((h) => h.summary()),
        ended: this.endedSince(0),
      }),
      HELLO_TIMEOUT_MS,
    );
    this.agents = new Map(reply.agents.map((a) => [a.name, a]));
    this.heartbeatMs = reply.heartbeatMs;
    return { version: reply.version, agents: reply.agents, heartbeatMs: reply.heartbeatMs };
  }

  private onCommand(msg: Message): Reply | undefined {
    const { bus } = this.o;
    switch (msg.type) {
      case 'session.start':
        return this.startSession(msg);
      case 'session.cancel': {
        const hosted = this.sessions.get(msg.session);
        if (hosted) hosted.cancel(msg.reason ?? 'cancelled');
        else if (!this.ended.has(msg.session))
          return this.error(msg.id, {
            code: 'unknown_session',
            message: `no session '${msg.session}' on worker ${this.o.workerId}`,
          });
        return bus.make('ack', { ref: msg.id });
      }
      case 'drain':
        this.drain(msg.timeoutMs);
        return bus.make('ack', { ref: msg.id });
      case 'shutdown':
        // A shutdown aimed at another incarnation of this worker id is not ours to obey.
        if (msg.epoch && msg.epoch !== this.epoch)
          return bus.make('ack', { ref: msg.id, detail: { ignored: 'other epoch' } });
        this.o.log.warn({ reason: msg.reason }, 'shutdown by the supervisor');
        for (const h of this.sessions.values()) h.cancel(`shutdown: ${msg.reason}`);
        this.drain(0);
        return bus.make('ack', { ref: msg.id });
      default:
        return undefined;
    }
  }

  private startSession(msg: MessageOf<'session.start'>): Reply {
    const { bus, log } = this.o;
    // Idempotent by session id: a retried start gets the same answer and starts nothing.
    const existing = this.sessions.get(msg.session);
    if (existing) return bus.make('ack', { ref: msg.id, detail: { existing: true, state: existing.state } });
    const ended = this.ended.get(msg.session);
    if (ended) return bus.make('ack', { ref: msg.id, detail: { existing: true, outcome: ended.outcome } });
    const spec = this.agents.get(msg.agent);
    if (!spec)
      return this.error(msg.id, {
        code: 'unknown_agent',
        message: `worker ${this.o.workerId} has no agent '${msg.agent}'`,
      });
    let refused: ErrorData | undefined;
    const sub = this.actor.on('session.refused', (e) => {
      if (e.sessionId === msg.session) refused = e.error;
    });
    this.actor.send({ type: 'SESSION_ADMIT', sessionId: msg.session });
    sub.unsubscribe();
    if (refused) return this.error(msg.id, refused);
    const hosted = new HostedSession(msg, {
      worker: this.o.workerId,
      spec,
      createDriver: this.o.createDriver,
      log: log.child({ session: msg.session, agent: msg.agent, job: msg.job.id }),
      callbacks: {
        transition: (t, h) => this.onTransition(t, h),
        speech: (e, h) => {
          h.log.info({ kind: e.kind, atMs: Math.round(e.atMs), speechCount: e.speechCount }, 'user speech');
          this.publish(
            bus.make('session.speech', { session: h.id, worker: this.o.workerId, epoch: this.epoch, ...e }),
          );
        },
      },
    });
    this.sessions.set(msg.session, hosted);
    hosted.run();
    return bus.make('ack', { ref: msg.id });
  }

  private onTransition(t: import('../../actors/session.types.ts').SessionTransition, h: HostedSession): void {
    const { bus, workerId } = this.o;
    h.log.info(
      { from: t.from, to: t.to, seq: t.seq, event: t.event, ...(t.failure ? { failure: t.failure } : {}) },
      'session transition',
    );
    const failure = t.failure
      ? { phase: t.failure.phase, code: t.failure.code, message: t.failure.message }
      : undefined;
    this.publish(
      bus.make('session.state', {
        session: h.id,
        worker: workerId,
        epoch: this.epoch,
        state: t.to,
        seq: t.seq,
        ...(failure ? { failure } : {}),
      }),
    );
    this.inspector.publish({
      actor: { id: h.id, kind: 'session', parent: workerId },
      from: t.from,
      to: t.to,
      event: t.event,
      seq: t.seq,
      summary: {
        agent: h.agent,
        room: h.room,
        worker: workerId,
        ...(t.failure ? { error: `${t.failure.code}: ${t.failure.message}` } : {}),
      },
    });
    if (!(FINAL_SESSION_STATES as readonly string[]).includes(t.to)) return;
    const outcome = t.to === 'closed' ? 'success' : t.to === 'cancelled' ? 'cancelled' : 'failed';
    const ended = bus.make('session.ended', {
      session: h.id,
      worker: workerId,
      epoch: this.epoch,
      seq: t.seq,
      outcome,
      ...(t.failure
        ? { phase: t.failure.phase, error: { code: t.failure.code, message: t.failure.message } }
        : {}),
    });
    this.publish(ended);
    this.sessions.delete(h.id);
    const error = ended.error
      ? { code: ended.error.code, message: ended.error.message.slice(0, ENDED_MESSAGE_MAX) }
      : undefined;
    this.ended.delete(h.id);
    this.ended.set(h.id, {
      session: h.id,
      agent: h.agent,
      jobId: h.jobId,
      seq: t.seq,
      outcome,
      ...(ended.phase ? { phase: ended.phase } : {}),
      ...(error ? { error } : {}),
      endedAt: Date.now(),
    });
    this.trimEnded();
    this.actor.send({ type: 'SESSION_FINISHED', sessionId: h.id });
  }

  /** Keeps the ended record to its bounds: the last `endedMemory` sessions, none older than 10 minutes. */
  private trimEnded(): void {
    const memory = Math.min(this.o.endedMemory ?? ENDED_RECORD_LIMIT, ENDED_RECORD_LIMIT);
    const oldest = Date.now() - ENDED_KEEP_MS;
    for (const [key, e] of this.ended) {
      if (this.ended.size <= memory && e.endedAt >= oldest) break;
      this.ended.delete(key);
    }
  }

  /** The recorded ends at or after `since`, oldest first. */
  private endedSince(since: number): EndedSession[] {
    this.trimEnded();
    return [...this.ended.values()].filter((e) => e.endedAt >= since);
  }

  private heartbeat(): void {
    const { bus, workerId } = this.o;
    const snap = this.actor.getSnapshot().context;
    const recent = this.endedSince(
      Math.min(Date.now() - ENDED_IN_BEATS * this.heartbeatMs, this.linkDownAt ?? Number.POSITIVE_INFINITY),
    );
    this.publish(
      bus.make('heartbeat', {
        worker: workerId,
        epoch: this.epoch,
        state: snap.state ?? 'starting',
        active: this.sessions.size,
        capacity: this.o.capacity,
        rssBytes: process.memoryUsage.rss(),
        prewarm: { ...this.prewarmInfo, ...(this.o.vadLoads ? { vadLoads: this.o.vadLoads() } : {}) },
        sessions: [...this.sessions.values()].map((h) => h.summary()),
        rejected: { ...bus.rejected } as Record<string, number>,
        ...(recent.length > 0 ? { ended: recent } : {}),
      }),
    );
  }

  private startHeartbeat(): void {
    this.heartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private publish(msg: Message): void {
    this.o.bus.publish(this.s.events(this.o.workerId), msg);
  }

  private error(ref: string, error: ErrorData): Reply {
    return this.o.bus.make('error', { ref, error });
  }
}
