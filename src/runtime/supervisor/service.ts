import { randomUUID } from 'node:crypto';
import { type Actor, createActor } from 'xstate';
import {
  drainReport,
  findSession,
  type LedgerEntry,
  ledgerEntries,
  ledgerEntry,
} from '../../actors/pool-views.ts';
import { livenessTickMs } from '../../actors/pool-workers.ts';
import { supervisorMachine } from '../../actors/supervisor.machine.ts';
import type {
  DispatchResult,
  RolloutView,
  SupervisorEmitted,
  SupervisorInput,
} from '../../actors/supervisor.types.ts';
import {
  type AgentSpec,
  type ErrorData,
  type Message,
  type MessageOf,
  negotiateVersion,
  parseSubject,
  type Reply,
  SessionState,
  SUPPORTED_VERSIONS,
  type Subjects,
  subjects,
  toErrorData,
} from '../../protocol/index.ts';
import { toInspectEvent } from '../inspect/events.ts';
import { InspectHistory, type SessionHistory } from '../inspect/history.ts';
import { serveHistory } from '../inspect/history-service.ts';
import { InspectPublisher } from '../inspect/publisher.ts';
import { LogLimiter } from '../log-limiter.ts';
import type { Logger } from '../logger.ts';
import { type Bus, NoRespondersError, RequestFailedError, RequestTimeoutError } from '../nats/bus.ts';
import { buildStatus } from './status.ts';
import type { DispatchBody, DispatchOutcome, SessionListener, SessionUpdate } from './types.ts';

export type { DispatchBody, DispatchOutcome, SessionListener, SessionUpdate } from './types.ts';

export interface SupervisorServiceOptions {
  bus: Bus;
  pool: string;
  registry: AgentSpec[];
  localWorkers: { id: string; capacity: number }[];
  heartbeatMs: number;
  drainTimeoutMs: number;
  log: Logger;
  policy?: SupervisorInput['policy'];
  /** Caps on concurrent sessions and the per-agent circuit breaker (docs/operations.md). */
  limits?: SupervisorInput['limits'];
  breaker?: SupervisorInput['breaker'];
  /** Ended sessions from the durable record, and where to find the history of older ones. */
  restored?: SupervisorInput['ended'];
  historyFallback?: (session: string) => Promise<SessionHistory | undefined>;
  /** This supervisor's leadership term (its lease revision): every command and supervisor.up carries it. */
  term?: number;
  /** The local workers of a new generation (`openrtc rollout`, SIGHUP, dev's reload); absent: none. */
  rolloutWorkers?: (generation: number) => { id: string; capacity: number; spare?: boolean }[];
  /** Starts a local worker process; returns its pid. */
  spawnWorker(worker: string, attempt: number): number;
  killWorker(worker: string, signal: NodeJS.Signals): void;
}

const COMMAND_TIMEOUT_MS = 3000;
export const SUPERVISOR_ID = 'supervisor';

type Emitted<T extends SupervisorEmitted['type']> = Extract<SupervisorEmitted, { type: T }>;

/** How a rollout ended: done (the new generation serves), or failed (the old one serves on). */
export type RolloutOutcome = { ok: true; rollout: RolloutView } | { ok: false; error: ErrorData };
type SessionStateBody = Omit<MessageOf<'session.state'>, 'v' | 'id' | 'ts' | 'from' | 'type'>;

/** The ledger: every session the supervisor knows, live or in the bounded record of ended ones. */
export interface LedgerView {
  get(session: string): LedgerEntry | undefined;
  all(): LedgerEntry[];
}

/**
 * The supervisor process's edge. The supervisor machine holds all pool state (workers, sessions,
 * fencing, the record of ended sessions); this class has two jobs only: ingress (decode a NATS
 * message or a process exit, turn it into an event) and carrying out what the machine emits
 * (NATS commands, spawn, kill, logs). Status, the ledger and the drain's verdict are projections
 * of the machine's snapshot.
 */
export class SupervisorService {
  readonly epoch = randomUUID().slice(0, 8);
  /** Recent transitions of every session, for `openrtc inspect --session` (docs/inspect.md). */
  readonly history = new InspectHistory();
  readonly actor: Actor<typeof supervisorMachine>;
  private readonly s: Subjects;
  readonly stopped: Promise<void>;
  private readonly inspector: InspectPublisher;
  private readonly sessionListeners = new Set<SessionListener>();
  private readonly fenceLog = new LogLimiter();

  constructor(private readonly o: SupervisorServiceOptions) {
    this.s = subjects(o.pool);
    this.inspector = new InspectPublisher(o.bus, o.pool, SUPERVISOR_ID);
    this.actor = createActor(supervisorMachine, {
      id: SUPERVISOR_ID,
      input: {
        pool: o.pool,
        registry: o.registry,
        localWorkers: o.localWorkers,
        heartbeatMs: o.heartbeatMs,
        drainTimeoutMs: o.drainTimeoutMs,
        now: Date.now(),
        ...(o.policy ? { policy: o.policy } : {}),
        ...(o.limits ? { limits: o.limits } : {}),
        ...(o.breaker ? { breaker: o.breaker } : {}),
        ...(o.restored ? { ended: o.restored } : {}),
      },
    });
    this.stopped = new Promise((resolve) => this.actor.subscribe({ complete: () => resolve() }));
    this.wireEmitted();
  }

  get log(): Logger {
    return this.o.log;
  }

  start(): void {
    const { bus } = this.o;
    bus.subscribe(this.s.helloAll, (msg, raw) => this.onHello(msg, raw.subject));
    bus.subscribe(this.s.eventsAll, (msg, raw) => this.onWorkerEvent(msg, raw.subject));
    bus.subscribe(this.s.inspectAll, (msg, raw) => this.onInspect(msg, raw.subject));
    bus.subscribe(this.s.dispatch, (msg) => this.onDispatch(msg));
    bus.subscribe(this.s.status, (msg) => (msg.type === 'status' ? this.status(msg.id) : undefined));
    bus.subscribe(this.s.rollout, (msg) => (msg.type === 'rollout' ? this.onRollout(msg) : undefined));
    serveHistory(bus, this.s, this.history, this.o.historyFallback);
    // While our own link is down, silence proves nothing about the workers.
    bus.onLink((connected) => this.actor.send({ type: 'BUS', now: Date.now(), connected }));
    this.pingForHearing();
    // Starting, the machine announces itself (supervisor.up): workers that outlived a previous
    // supervisor answer with a hello carrying their sessions and their record of ended ones.
    this.actor.start();
  }

  /**
   * Pings the NATS server through our own connection once per loss check. Its reply comes back
   * behind every message the server had queued for us, so when it does, the machine knows up to
   * when it has heard everything (`HEARD`): a supervisor behind on its inbound messages (a flood of
   * them, or its event loop stalled) does not take heartbeats still queued for silence.
   */
  private pingForHearing(): void {
    let outstanding = false;
    const timer = setInterval(
      () => {
        if (outstanding) return;
        outstanding = true;
        const upTo = Date.now();
        this.o.bus
          .flush()
          .then(() => this.actor.send({ type: 'HEARD', now: Date.now(), upTo }))
          .catch(() => {
            // the link is down: BUS says so, and the next ping after it is back starts afresh
          })
          .finally(() => {
            outstanding = false;
          });
      },
      livenessTickMs({ heartbeatMs: this.o.heartbeatMs }),
    );
    timer.unref();
    void this.stopped.then(() => clearInterval(timer));
  }

  /** A local worker process exited (any code or signal). */
  workerExited(worker: string, pid: number, code: number | null, signal: string | null): void {
    const normal = code === 0 && this.actor.getSnapshot().context.health === 'draining';
    this.log[normal ? 'info' : 'warn']({ worker, pid, code, signal }, 'worker process exited');
    this.actor.send({ type: 'WORKER_EXITED', now: Date.now(), worker, pid, code, signal });
  }

  /** Stops new dispatch, drains every worker, and resolves `stopped` when all are down. */
  drain(timeoutMs = this.o.drainTimeoutMs): void {
    this.actor.send({ type: 'DRAIN', now: Date.now(), timeoutMs });
  }

  status(ref: string): MessageOf<'status.ok'> {
    return this.o.bus.make(
      'status.ok',
      buildStatus(ref, this.actor.getSnapshot().context, this.o.bus.rejected),
    );
  }

  /** Every session the supervisor knows, and how each ended (a projection of the machine's snapshot). */
  get ledger(): LedgerView {
    const ctx = () => this.actor.getSnapshot().context;
    return { get: (session) => ledgerEntry(ctx(), session), all: () => ledgerEntries(ctx()) };
  }

  /**
   * A rolling upgrade (docs/operations.md): a new generation of local workers with the code on
   * disk; once all are ready, the older generations drain. Resolves when it is done or failed.
   */
  rollout(timeoutMs?: number): Promise<RolloutOutcome> {
    const requestId = randomUUID();
    const ctx = this.actor.getSnapshot().context;
    const workers = this.o.rolloutWorkers?.(ctx.generation + 1) ?? [];
    return new Promise((resolve) => {
      const sub = this.actor.on('rollout.result', (r) => {
        if (r.requestId !== requestId) return;
        sub.unsubscribe();
        resolve(r.ok ? { ok: true, rollout: r.rollout } : { ok: false, error: r.error });
      });
      this.log.info({ workers: workers.map((w) => w.id) }, 'rollout: starting a new generation');
      this.actor.send({
        type: 'ROLLOUT',
        now: Date.now(),
        requestId,
        workers,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
    });
  }

  private async onRollout(msg: MessageOf<'rollout'>): Promise<Reply> {
    const result = await this.rollout(msg.timeoutMs);
    if (!result.ok) return this.o.bus.make('error', { ref: msg.id, error: result.error });
    const { requestId, deadline, ...rollout } = result.rollout;
    return this.o.bus.make('rollout.ok', { ref: msg.id, rollout });
  }

  /** How the drain went: the sessions it cut short (adopted ones included). */
  drainReport(): { cut: number; sessions: string[] } {
    return drainReport(this.actor.getSnapshot().context);
  }

  private onHello(msg: Message, subject: string): Reply | undefined {
    if (msg.type !== 'hello') return undefined;
    const { bus } = this.o;
    if (!this.fromMatchesSubject(msg.worker, msg.from, subject, msg.type)) {
      return bus.make('error', {
        ref: msg.id,
        error: {
          code: 'invalid_message',
          message: `hello from '${msg.from}' for worker '${msg.worker}' arrived on ${subject}`,
        },
      });
    }
    const version = negotiateVersion(SUPPORTED_VERSIONS, msg.versions);
    if (version === null) {
      const error: ErrorData = {
        code: 'version_incompatible',
        message: `worker ${msg.worker} speaks protocol ${msg.versions.min}..${msg.versions.max}; this supervisor speaks ${SUPPORTED_VERSIONS.min}..${SUPPORTED_VERSIONS.max}`,
        details: {
          workerMin: msg.versions.min,
          workerMax: msg.versions.max,
          supervisorMin: SUPPORTED_VERSIONS.min,
          supervisorMax: SUPPORTED_VERSIONS.max,
        },
      };
      this.log.error({ worker: msg.worker, err: error }, 'incompatible worker refused');
      return bus.make('error', { ref: msg.id, error });
    }
    const { v, id, ts, from, type, ...body } = msg;
    this.actor.send({ type: 'WORKER_HELLO', now: Date.now(), ...body });
    this.log.info(
      {
        worker: msg.worker,
        pid: msg.pid,
        host: msg.host,
        epoch: msg.epoch,
        sessions: msg.sessions.length,
        ended: msg.ended?.length ?? 0,
      },
      'worker said hello',
    );
    return bus.make('welcome', {
      ref: msg.id,
      version,
      pool: this.o.pool,
      supervisorEpoch: this.epoch,
      heartbeatMs: this.o.heartbeatMs,
      agents: this.o.registry,
      transitionsOnInspect: true,
    });
  }

  private onWorkerEvent(msg: Message, subject: string): void {
    if (!('worker' in msg) || typeof msg.worker !== 'string') return;
    if (!this.fromMatchesSubject(msg.worker, msg.from, subject, msg.type)) return;
    const now = Date.now();
    const { v, id, ts, from, type, ...body } = msg as Message & { worker: string };
    switch (msg.type) {
      case 'heartbeat':
        this.actor.send({
          type: 'HEARTBEAT',
          now,
          ...(body as Omit<MessageOf<'heartbeat'>, 'v' | 'id' | 'ts' | 'from' | 'type'>),
        });
        break;
      case 'worker.state':
        this.actor.send({
          type: 'WORKER_STATE',
          now,
          ...(body as Omit<MessageOf<'worker.state'>, 'v' | 'id' | 'ts' | 'from' | 'type'>),
        });
        break;
      case 'session.state':
        this.onSessionState(body as SessionStateBody, now);
        break;
      case 'session.ended':
        this.actor.send({
          type: 'SESSION_ENDED',
          now,
          ...(body as Omit<MessageOf<'session.ended'>, 'v' | 'id' | 'ts' | 'from' | 'type'>),
        });
        break;
      case 'session.speech':
        this.actor.send({
          type: 'SESSION_SPEECH',
          now,
          ...(body as Omit<MessageOf<'session.speech'>, 'v' | 'id' | 'ts' | 'from' | 'type'>),
        });
        break;
    }
  }

  /**
   * Every inspection event of the pool feeds the history. A worker's session transition that
   * carries its epoch is also that worker's report (it sent no `session.state`: see
   * `transitionsOnInspect` in the welcome), taken like one.
   */
  private onInspect(msg: Message, subject: string): void {
    if (msg.type !== 'inspect') return;
    this.history.record(toInspectEvent(msg));
    if (msg.epoch === undefined || msg.actor.kind !== 'session') return;
    const worker = msg.actor.parent ?? '';
    if (!this.fromMatchesSubject(worker, msg.from, subject, msg.type)) return;
    const state = SessionState.safeParse(msg.toState);
    if (!state.success) {
      this.actor.send({ type: 'REJECTED', reason: 'invalid_fields' });
      this.log.warn(
        { worker, session: msg.actor.id, state: msg.toState },
        'session report refused: unknown state',
      );
      return;
    }
    this.onSessionState(
      {
        session: msg.actor.id,
        worker,
        epoch: msg.epoch,
        state: state.data,
        seq: msg.seq,
        ...(msg.failure ? { failure: msg.failure } : {}),
      },
      Date.now(),
    );
  }

  /** A worker's report of a session transition (`session.state`, or an `inspect` carrying its epoch). */
  private onSessionState(body: SessionStateBody, now: number): void {
    this.notify({
      session: body.session,
      worker: body.worker,
      state: body.state,
      seq: body.seq,
      ...(body.failure ? { error: { code: body.failure.code, message: body.failure.message } } : {}),
    });
    this.actor.send({ type: 'SESSION_STATE', now, ...body });
  }

  private onDispatch(msg: Message): Reply | undefined {
    if (msg.type !== 'dispatch') return undefined;
    const { bus } = this.o;
    const { v, id, ts, from, type, ...body } = msg;
    const result = this.dispatch(body, msg.id);
    if (!result.ok) return bus.make('error', { ref: msg.id, error: result.error });
    const { ok, ...placed } = result;
    return bus.make('dispatch.ok', { ref: msg.id, ...placed });
  }

  /**
   * Routes and places a job, in process (the NATS dispatch subject and the LiveKit dispatcher both
   * come here). Idempotent by job id; never queues: no capacity is an immediate `no_capacity`.
   */
  dispatch(body: DispatchBody, requestId: string = randomUUID()): DispatchOutcome {
    let result: DispatchResult | undefined;
    const sub = this.actor.on('dispatch.result', (r) => {
      if (r.requestId === requestId) result = r;
    });
    const sessionId = `s${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    try {
      this.actor.send({
        type: 'DISPATCH',
        now: Date.now(),
        requestId,
        sessionId,
        ...(body.agent ? { agent: body.agent } : {}),
        ...(body.job ? { job: body.job } : {}),
        ...(body.explicitOnly !== undefined ? { explicitOnly: body.explicitOnly } : {}),
        ...(body.transport ? { transport: body.transport } : {}),
        ...(body.audio ? { audio: body.audio } : {}),
      });
    } finally {
      sub.unsubscribe();
    }
    if (!result)
      return {
        ok: false,
        error: { code: 'internal', message: 'the supervisor machine gave no dispatch result' },
      };
    if (!result.ok) {
      this.log.warn({ err: result.error, job: body.job?.id }, 'dispatch refused');
      return { ok: false, error: result.error };
    }
    const { type, requestId: _r, ...placed } = result;
    return placed;
  }

  /**
   * Calls `listener` with every session state the supervisor learns (worker reports and its own
   * verdicts). A final state may be reported twice (the transition, then the end): dedupe on it.
   */
  onSession(listener: SessionListener): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  /** Sessions placed and not ended, and the capacity of the workers that can take more. */
  load(): { active: number; capacity: number } {
    const ctx = this.actor.getSnapshot().context;
    let active = 0;
    let capacity = 0;
    for (const w of Object.values(ctx.workers)) {
      if (w.state !== 'ready' && w.state !== 'full') continue;
      active += w.active;
      capacity += w.capacity;
    }
    return { active, capacity };
  }

  /** Asks a session's worker to cancel it (idempotent); resolves with the worker's error, if any. */
  async cancel(session: string, reason: string): Promise<ErrorData | undefined> {
    const view = findSession(this.actor.getSnapshot().context, session);
    if (!view) return { code: 'unknown_session', message: `no session '${session}' in this pool` };
    return this.command(view.worker, this.o.bus.make('session.cancel', { session, reason }));
  }

  private notify(e: SessionUpdate): void {
    for (const l of this.sessionListeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err: toErrorData(err), session: e.session }, 'session listener failed');
      }
    }
  }

  private wireEmitted(): void {
    const a = this.actor;
    a.on('session.place', (e) => this.place(e));
    a.on('session.lost', (e) => {
      this.log.warn(
        { session: e.sessionId, worker: e.worker, agent: e.agent, job: e.jobId, err: e.error },
        'session lost with its worker',
      );
      this.notify({ session: e.sessionId, worker: e.worker, state: 'failed', seq: e.seq, error: e.error });
      this.inspectSession(e.sessionId, e.worker, e.seq, 'failed', 'WORKER_LOST', {
        agent: e.agent,
        worker: e.worker,
        error: `${e.error.code}: ${e.error.message}`,
      });
    });
    a.on('session.ended', (e) => {
      // Also covers ends the worker never reported (a failed placement, a lost end event), and
      // ends a worker recorded while no supervisor listened.
      this.notify({
        session: e.sessionId,
        worker: e.worker,
        state: e.state,
        seq: e.seq,
        ...(e.error ? { error: e.error } : {}),
      });
      this.log.info(
        {
          session: e.sessionId,
          worker: e.worker,
          agent: e.agent,
          state: e.state,
          ...(e.error ? { err: e.error } : {}),
        },
        'session ended',
      );
    });
    a.on(
      'session.cancel',
      (e) =>
        void this.command(
          e.worker,
          this.o.bus.make('session.cancel', { session: e.sessionId, reason: e.reason }),
        ),
    );
    a.on('worker.spawn', (e) => {
      const pid = this.o.spawnWorker(e.worker, e.attempt);
      this.actor.send({ type: 'WORKER_SPAWNED', now: Date.now(), worker: e.worker, pid });
      this.log.info(
        { worker: e.worker, pid, attempt: e.attempt, restarts: e.restarts },
        e.attempt === 0 ? 'worker spawned' : 'worker restarted',
      );
    });
    a.on('worker.promoted', (e) =>
      this.log.warn({ worker: e.worker, replaces: e.replaces, reason: e.reason }, 'spare worker promoted'),
    );
    a.on('worker.kill', (e) => {
      this.log.warn({ worker: e.worker, pid: e.pid, reason: e.reason }, 'killing worker');
      this.o.killWorker(e.worker, 'SIGKILL');
    });
    a.on(
      'worker.drain',
      (e) => void this.command(e.worker, this.o.bus.make('drain', { timeoutMs: e.timeoutMs })),
    );
    a.on('worker.given_up', (e) =>
      this.log.error(
        {
          worker: e.worker,
          restarts: e.restarts,
          maxRestarts: e.maxRestarts,
          periodMs: e.periodMs,
          reason: e.reason,
        },
        'worker given up',
      ),
    );
    a.on('worker.fenced', (e) => {
      const { log, suppressed } = this.fenceLog.allow(e.worker);
      if (log) {
        this.log.warn(
          {
            worker: e.worker,
            epoch: e.epoch,
            type: e.messageType,
            reason: e.reason,
            ...(suppressed ? { suppressed } : {}),
          },
          'fenced: message from an incarnation that is not live',
        );
      }
    });
    a.on('worker.shutdown', (e) => {
      this.log.warn({ worker: e.worker, epoch: e.epoch, reason: e.reason }, 'stopping a fenced incarnation');
      void this.command(e.worker, this.o.bus.make('shutdown', { reason: e.reason, epoch: e.epoch }));
    });
    a.on('supervisor.announce', (e) => {
      this.log.info({ epoch: this.epoch, reason: e.reason }, 'asking every worker to say hello');
      this.o.bus.publish(
        this.s.broadcast,
        this.o.bus.make('supervisor.up', {
          epoch: this.epoch,
          ...(this.o.term !== undefined ? { term: this.o.term } : {}),
        }),
      );
    });
    a.on('rollout.result', (e) => {
      if (e.ok) {
        const { generation, workers, drained } = e.rollout;
        this.log.info({ generation, workers, drained }, 'rollout done: the new generation serves');
      } else if (e.rollout) {
        this.log.error({ err: e.error }, 'rollout failed: the old generation serves on');
      } else {
        this.log.warn({ err: e.error }, 'rollout refused');
      }
    });
    a.on('pool.health', (e) =>
      this.log[e.health === 'degraded' ? 'warn' : 'info'](
        { health: e.health, previous: e.previous },
        'pool health',
      ),
    );
    a.on('agent.breaker', (e) => {
      this.log[e.state === 'closed' ? 'info' : 'warn'](
        { agent: e.agent, state: e.state, previous: e.previous, failures: e.failures, reason: e.reason },
        'agent circuit breaker',
      );
    });
    a.on('supervisor.transition', (e) =>
      this.inspector.publish({
        actor: { id: SUPERVISOR_ID, kind: 'supervisor' },
        from: e.from,
        to: e.to,
        event: e.event,
        seq: e.seq,
        summary: { pool: this.o.pool },
      }),
    );
  }

  /** Starts a placed session on its worker, with the job and transport the machine chose. */
  private async place(e: Emitted<'session.place'>): Promise<void> {
    const { bus } = this.o;
    this.log.info(
      { session: e.sessionId, worker: e.worker, agent: e.agent, job: e.job.id },
      e.moved ? 'session moved: its worker died before starting it' : 'session placed',
    );
    const start = bus.make('session.start', {
      session: e.sessionId,
      agent: e.agent,
      job: e.job,
      transport: e.transport,
    });
    const error = await this.command(e.worker, start, 2);
    // The machine ignores it if the session has moved to another worker meanwhile; a stopped
    // pool has nothing more to learn.
    if (error && this.actor.getSnapshot().status === 'active') {
      this.actor.send({
        type: 'PLACE_FAILED',
        now: Date.now(),
        sessionId: e.sessionId,
        worker: e.worker,
        error,
      });
    }
  }

  /** Sends a command to a worker; retries (commands are idempotent by id) and returns the error, if any. */
  private async command(
    worker: string,
    msg: MessageOf<'session.start' | 'session.cancel' | 'drain' | 'shutdown'>,
    attempts = 1,
  ): Promise<ErrorData | undefined> {
    let last: ErrorData | undefined;
    const fenced = this.o.term !== undefined ? { ...msg, term: this.o.term } : msg;
    for (let i = 0; i < attempts; i++) {
      try {
        await this.o.bus.request(this.s.workerCmd(worker), fenced, COMMAND_TIMEOUT_MS);
        return undefined;
      } catch (err) {
        last = err instanceof RequestFailedError ? err.error : toErrorData(err);
        if (!(err instanceof RequestTimeoutError || err instanceof NoRespondersError)) break;
      }
    }
    this.log.warn({ worker, type: msg.type, err: last }, 'worker command failed');
    return last;
  }

  /** Defence in depth: a worker may only speak for itself, on its own subjects. */
  private fromMatchesSubject(worker: string, from: string, subject: string, type: string): boolean {
    const owner = parseSubject(subject)?.owner;
    if (owner === worker && from === worker) return true;
    this.actor.send({ type: 'REJECTED', reason: 'from_mismatch' });
    this.log.warn({ subject, from, worker, type }, 'message refused: sender does not match its subject');
    return false;
  }

  /** A session transition the supervisor decided itself (worker lost): one past the worker's last seq. */
  private inspectSession(
    session: string,
    worker: string,
    seq: number,
    to: string,
    event: string,
    summary: Record<string, string>,
  ): void {
    this.inspector.publish({
      actor: { id: session, kind: 'session', parent: worker },
      from: null,
      to,
      event,
      seq,
      summary,
    });
  }
}
