import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Actor, type AnyActorRef, createActor, fromPromise } from 'xstate';
import type { SessionRetry, SessionTransition } from '../../actors/session.types.ts';
import {
  admissionRefusal,
  existingSession,
  heartbeatBody,
  helloBody,
  type WorkerMachine,
  type WorkerSnapshotView,
  workerMachine,
} from '../../actors/worker.machine.ts';
import type {
  HostedSession,
  RegisterError,
  SessionEnd,
  SessionEndedEmitted,
  SessionRequest,
  Welcome,
  WorkerOutput,
  WorkerTransition,
} from '../../actors/worker.types.ts';
import {
  type AgentSpec,
  type ErrorData,
  FINAL_SESSION_STATES,
  type Message,
  type MessageOf,
  type Reply,
  type SessionState,
  type Subjects,
  subjects,
  type WorkerState,
} from '../../protocol/index.ts';
import { codeVersion } from '../agents/code-version.ts';
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
import { hostedSessionOf, type SpeechEvent, sessionLogic } from './session-io.ts';

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
/** Worker states the supervisor hears of at once (the others show in heartbeats). */
const REPORTED_STATES: readonly WorkerState[] = ['ready', 'full', 'draining', 'stopped', 'failed'];

/**
 * A worker process's IO around its worker actor, which owns everything the worker knows (its
 * sessions as child actors, the record of ended sessions, registration, the heartbeat). This
 * service has two jobs: turning NATS messages into the actor's events, and carrying out what the
 * actors emit (publish, reply, hello).
 */
export class WorkerService {
  /** This incarnation: the supervisor ignores messages from an older epoch of the same worker id. */
  readonly epoch = randomUUID().slice(0, 8);
  readonly done: Promise<WorkerOutput>;
  private readonly s: Subjects;
  private readonly actor: Actor<WorkerMachine>;
  private readonly inspector: InspectPublisher;
  private readonly host = hostname();
  /**
   * Fencing (docs/operations.md): the highest leadership term seen in a command or supervisor.up.
   * A command from an older term comes from a supervisor that is no longer the leader: refused.
   */
  private term = 0;
  /**
   * Whether the supervisor's welcome said `transitionsOnInspect`: then a session transition is
   * published once, as an `inspect` carrying the epoch, instead of as `session.state` and `inspect`.
   */
  private transitionsOnInspect = false;

  constructor(private readonly o: WorkerServiceOptions) {
    this.s = subjects(o.pool);
    this.inspector = new InspectPublisher(o.bus, o.pool, o.workerId);
    const machine = workerMachine.provide({
      actors: {
        register: fromPromise<Welcome, { workerId: string; attempt: number }>(() => this.register()),
        // The code version is read before the import: the agent files this process is about to load.
        prewarm: fromPromise(async ({ input }) => {
          const code = await codeVersion(input.agents.map((a) => a.module));
          return { ...(await o.prewarm(input.agents)), code };
        }),
        session: sessionLogic({
          createDriver: o.createDriver,
          log: o.log,
          speech: (hosted, e) => this.onSpeech(hosted, e),
        }),
      },
    });
    this.actor = createActor(machine, {
      id: o.workerId,
      input: {
        workerId: o.workerId,
        epoch: this.epoch,
        capacity: o.capacity,
        drainTimeoutMs: o.drainTimeoutMs,
        ...(o.endedMemory !== undefined ? { endedLimit: o.endedMemory } : {}),
      },
      // Session actors are the worker's children; their transitions are effects to carry out.
      inspect: (ev) => {
        if (ev.type !== '@xstate.actor') return;
        const ref = ev.actorRef as AnyActorRef;
        if (ref.src === 'session') this.watchSession(ref);
      },
    });
    this.done = new Promise((resolve) => {
      this.actor.subscribe({ complete: () => resolve(this.actor.getSnapshot().output as WorkerOutput) });
    });
    this.actor.on('worker.transition', (t) => this.onWorkerTransition(t));
    this.actor.on('worker.heartbeat', (e) => this.publishHeartbeat(e.endsSince));
    this.actor.on('worker.hello', () => void this.helloAgain());
    this.actor.on('worker.register_retry', (r) => {
      // Rate-limited: a worker started before its supervisor retries for as long as it takes.
      if (r.attempt === 1 || r.attempt % 10 === 0)
        o.log.warn({ attempt: r.attempt, delayMs: r.delayMs, err: r.error }, 'waiting for a supervisor');
    });
    this.actor.on('session.ended', (e) => this.publishEnded(e));
  }

  get state(): WorkerState | null {
    return this.actor.getSnapshot().context.state;
  }

  /** Subscribes to commands and starts the worker machine. */
  start(): void {
    const { bus } = this.o;
    bus.subscribe(this.s.workerCmd(this.o.workerId), (msg) => this.onCommand(msg));
    bus.subscribe(this.s.broadcast, (msg) => {
      // A (re)started supervisor asks everyone to say hello again, so it can re-adopt sessions.
      if (msg.type !== 'supervisor.up') return;
      if (msg.term !== undefined && msg.term < this.term) {
        this.o.log.warn({ term: msg.term, current: this.term }, 'supervisor.up from a stale leader ignored');
        return;
      }
      if (msg.term !== undefined) this.term = msg.term;
      this.actor.send({ type: 'SUPERVISOR_UP' });
    });
    bus.onLink((up) => this.actor.send({ type: 'LINK', up, now: Date.now() }));
    this.actor.start();
    this.actor.send({ type: 'STARTED' });
  }

  /** Graceful drain: refuse new sessions, let running ones finish up to the timeout. */
  drain(timeoutMs = this.o.drainTimeoutMs): void {
    this.actor.send({ type: 'DRAIN', timeoutMs });
  }

  /** Stops the worker actor if it still runs, then publishes a last heartbeat with its final state. */
  async stop(): Promise<void> {
    if (this.actor.getSnapshot().status === 'active') this.actor.stop();
    this.publishHeartbeat(null);
  }

  private view(): WorkerSnapshotView {
    const { context, children } = this.actor.getSnapshot();
    return { context, children: children as WorkerSnapshotView['children'] };
  }

  /** One hello; a supervisor that cannot be reached is a retryable RegisterError (the chart backs off). */
  private async register(): Promise<Welcome> {
    try {
      return await this.hello();
    } catch (err) {
      if (
        err instanceof RequestTimeoutError ||
        err instanceof NoRespondersError ||
        err instanceof NatsUnavailableError
      ) {
        throw { ...err.error, retryable: true } satisfies RegisterError;
      }
      throw err instanceof RequestFailedError ? err.error : err;
    }
  }

  private async hello(): Promise<Welcome> {
    const { bus, workerId } = this.o;
    const body = helloBody(this.view(), { pid: process.pid, host: this.host, now: Date.now() });
    const reply = await bus.request(this.s.hello(workerId), bus.make('hello', body), HELLO_TIMEOUT_MS);
    this.transitionsOnInspect = reply.transitionsOnInspect === true;
    return {
      version: reply.version,
      agents: reply.agents,
      heartbeatMs: reply.heartbeatMs,
      supervisor: reply.from,
    };
  }

  private async helloAgain(): Promise<void> {
    try {
      this.actor.send({ type: 'WELCOMED', welcome: await this.hello() });
    } catch (err) {
      this.o.log.debug({ err: err instanceof RequestFailedError ? err.error : err }, 'hello again failed');
    }
  }

  private onCommand(msg: Message): Reply | undefined {
    const { bus } = this.o;
    const term = 'term' in msg && typeof msg.term === 'number' ? msg.term : undefined;
    if (term !== undefined && term < this.term) {
      this.o.log.warn({ type: msg.type, term, current: this.term }, 'command from a stale leader refused');
      return this.error(msg.id, {
        code: 'stale_term',
        message: `worker ${this.o.workerId} follows leadership term ${this.term}; this ${msg.type} carries term ${term}`,
        details: { term, current: this.term },
      });
    }
    if (term !== undefined) this.term = term;
    switch (msg.type) {
      case 'session.start':
        return this.startSession(msg);
      case 'session.cancel': {
        if (!existingSession(this.view(), msg.session))
          return this.error(msg.id, {
            code: 'unknown_session',
            message: `no session '${msg.session}' on worker ${this.o.workerId}`,
          });
        this.actor.send({
          type: 'SESSION_CANCEL',
          sessionId: msg.session,
          ...(msg.reason ? { reason: msg.reason } : {}),
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
        this.actor.send({ type: 'SHUTDOWN', reason: msg.reason });
        return bus.make('ack', { ref: msg.id });
      default:
        return undefined;
    }
  }

  private startSession(msg: MessageOf<'session.start'>): Reply {
    const { bus } = this.o;
    // Idempotent by session id: a retried start gets the same answer and starts nothing.
    const existing = existingSession(this.view(), msg.session);
    if (existing) return bus.make('ack', { ref: msg.id, detail: { existing: true, ...existing } });
    let answer: { admitted: true } | { error: ErrorData } | undefined;
    const subs = [
      this.actor.on('session.admitted', (e) => {
        if (e.sessionId === msg.session) answer = { admitted: true };
      }),
      this.actor.on('session.refused', (e) => {
        if (e.sessionId === msg.session) answer = { error: e.error };
      }),
    ];
    this.actor.send({ type: 'SESSION_ADMIT', request: requestOf(msg), now: Date.now() });
    for (const sub of subs) sub.unsubscribe();
    if (answer && 'admitted' in answer) return bus.make('ack', { ref: msg.id });
    const { context } = this.actor.getSnapshot();
    // No answer at all: the worker actor has stopped.
    return this.error(
      msg.id,
      answer?.error ??
        admissionRefusal(context.state, context, msg) ?? {
          code: 'no_capacity',
          message: `worker ${this.o.workerId} is stopped`,
        },
    );
  }

  private onWorkerTransition(t: WorkerTransition): void {
    const { log, workerId, bus } = this.o;
    log.info(
      { from: t.from, to: t.to, event: t.event, ...(t.failure ? { failure: t.failure } : {}) },
      'worker transition',
    );
    const { supervisor } = this.actor.getSnapshot().context;
    this.inspector.publish({
      actor: { id: workerId, kind: 'worker', ...(supervisor ? { parent: supervisor } : {}) },
      from: t.from,
      to: t.to,
      event: t.event,
      seq: t.seq,
      summary: t.failure ? { error: t.failure.message } : {},
    });
    if (!REPORTED_STATES.includes(t.to)) return;
    const { code } = this.actor.getSnapshot().context;
    this.publish(
      bus.make('worker.state', {
        worker: workerId,
        epoch: this.epoch,
        state: t.to,
        ...(t.failure ? { reason: { code: t.failure.code, message: t.failure.message } } : {}),
        // The code version rides with `ready`: placement by generation needs no heartbeat first.
        ...(code ? { code } : {}),
      }),
    );
  }

  /** A session actor was created: its transitions and retries are reported as they happen. */
  private watchSession(ref: AnyActorRef): void {
    ref.on('session.transition', (t: SessionTransition) => this.onSessionTransition(ref, t));
    ref.on('session.retry', (r: SessionRetry) =>
      this.o.log.warn(
        { session: r.sessionId, attempt: r.attempt, delayMs: r.delayMs, err: r.error },
        'connect failed; retrying',
      ),
    );
  }

  private onSessionTransition(ref: AnyActorRef, t: SessionTransition): void {
    const { bus, log } = this.o;
    const hosted = hostedSessionOf(ref)?.hosted;
    const worker = ref._parent?.id ?? this.o.workerId;
    log.info(
      {
        session: t.sessionId,
        agent: hosted?.agent,
        job: hosted?.jobId,
        from: t.from,
        to: t.to,
        seq: t.seq,
        event: t.event,
        ...(t.failure ? { failure: t.failure } : {}),
      },
      'session transition',
    );
    const failure = t.failure
      ? { phase: t.failure.phase, code: t.failure.code, message: t.failure.message }
      : undefined;
    // One publish when the supervisor reads transitions from inspection events (docs/architecture.md).
    if (!this.transitionsOnInspect)
      this.publish(
        bus.make('session.state', {
          session: t.sessionId,
          worker,
          epoch: this.epoch,
          state: t.to,
          seq: t.seq,
          ...(failure ? { failure } : {}),
        }),
      );
    this.inspector.publish({
      actor: { id: t.sessionId, kind: 'session', parent: worker },
      from: t.from,
      to: t.to,
      event: t.event,
      seq: t.seq,
      summary: {
        agent: hosted?.agent ?? '?',
        room: hosted?.room ?? '?',
        worker,
        ...(t.failure ? { error: `${t.failure.code}: ${t.failure.message}` } : {}),
      },
      ...(this.transitionsOnInspect
        ? { report: { epoch: this.epoch, ...(failure ? { failure } : {}) } }
        : {}),
    });
    if (!isFinal(t.to)) return;
    // The worker actor records the end (with the time, which only the runtime knows) and stops the child.
    this.actor.send({
      type: 'SESSION_ENDED',
      sessionId: t.sessionId,
      state: t.to,
      seq: t.seq,
      ...(failure ? { failure } : {}),
      now: Date.now(),
    });
  }

  private onSpeech(hosted: HostedSession, e: SpeechEvent): void {
    const { bus, log, workerId } = this.o;
    log.info(
      {
        session: hosted.session,
        agent: hosted.agent,
        job: hosted.jobId,
        kind: e.kind,
        atMs: Math.round(e.atMs),
        speechCount: e.speechCount,
      },
      'user speech',
    );
    this.publish(
      bus.make('session.speech', { session: hosted.session, worker: workerId, epoch: this.epoch, ...e }),
    );
  }

  private publishEnded(e: SessionEndedEmitted): void {
    const { ended, failure } = e;
    this.publish(
      this.o.bus.make('session.ended', {
        session: ended.session,
        worker: this.o.workerId,
        epoch: this.epoch,
        seq: ended.seq,
        outcome: ended.outcome,
        ...(failure ? { phase: failure.phase, error: { code: failure.code, message: failure.message } } : {}),
      }),
    );
  }

  private publishHeartbeat(endsSince: number | null): void {
    const { bus, vadLoads } = this.o;
    this.publish(
      bus.make(
        'heartbeat',
        heartbeatBody(this.view(), {
          now: Date.now(),
          rssBytes: process.memoryUsage.rss(),
          ...(vadLoads ? { vadLoads: vadLoads() } : {}),
          rejected: { ...bus.rejected } as Record<string, number>,
          endsSince,
        }),
      ),
    );
  }

  private publish(msg: Message): void {
    this.o.bus.publish(this.s.events(this.o.workerId), msg);
  }

  private error(ref: string, error: ErrorData): Reply {
    return this.o.bus.make('error', { ref, error });
  }
}

/** The request a `session.start` carries, without its envelope. */
function requestOf(msg: MessageOf<'session.start'>): SessionRequest {
  return {
    session: msg.session,
    agent: msg.agent,
    job: msg.job,
    transport: msg.transport,
    ...(msg.limits ? { limits: msg.limits } : {}),
  };
}

function isFinal(state: SessionState): state is SessionEnd['state'] {
  return FINAL_SESSION_STATES.includes(state);
}
