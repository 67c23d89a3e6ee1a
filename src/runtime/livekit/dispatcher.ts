import { readFileSync } from 'node:fs';
import {
  type AvailabilityRequest,
  AvailabilityResponse,
  type JobAssignment,
  JobStatus,
  type JobTermination,
  JobType,
  ParticipantPermission,
  RegisterWorkerRequest,
  type ServerMessage,
  UpdateJobStatus,
  UpdateWorkerStatus,
  WorkerMessage,
  WorkerStatus,
} from '@livekit/protocol';
import type { AgentSpec, ErrorData, Transport } from '../../protocol/index.ts';
import type { Logger } from '../logger.ts';
import type { DispatchBody, DispatchOutcome, SessionListener } from '../supervisor/service.ts';
import { decideAvailability, Reservations, routeRequestOf } from './availability.ts';
import { AgentConnection } from './connection.ts';
import { JobTracker, type JobUpdate } from './job-status.ts';
import {
  agentIdentity,
  deploymentProblem,
  type LiveKitOptions,
  type RegistrationSpec,
  type ResolvedLiveKitOptions,
  registrationsOf,
  resolveLiveKitOptions,
} from './options.ts';

/** What the dispatcher needs of the supervisor (SupervisorService provides it). */
export interface DispatchTarget {
  dispatch(body: DispatchBody): DispatchOutcome;
  onSession(listener: SessionListener): () => void;
  load(): { active: number; capacity: number };
  cancel(session: string, reason: string): Promise<ErrorData | undefined>;
}

const OPENRTC_VERSION = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** A termination's cancel retries while the worker does not know the session yet, this long at most. */
const CANCEL_RETRY_WINDOW_MS = 1000;
const CANCEL_RETRY_EVERY_MS = 50;

/** One agent-worker registration: its socket, and what LiveKit knows of it. */
interface Link {
  spec: RegistrationSpec;
  conn: AgentConnection;
  /** This incarnation's number: jobs and held slots belong to it, and die with it. */
  incarnation: number;
  registered: boolean;
  workerId: string | undefined;
  lastStatus: WorkerStatus | undefined;
  registerTimer: NodeJS.Timeout | undefined;
  log: Logger;
}

/**
 * The supervisor as LiveKit agent workers: one registration (WebSocket) per agent name, so each
 * agent takes explicit dispatches under its own name, plus one for the whole pool (automatic
 * dispatch, or `agentName`) where routing picks the agent. Every registration answers availability
 * from the one pool's capacity, holding a slot for each accepted job until its assignment arrives;
 * it turns assignments into dispatches over NATS and terminations into cancels, and reports load
 * and each job's status in the order livekit-server records them (docs/livekit.md).
 */
export class LiveKitDispatcher {
  private readonly links: Link[];
  private readonly jobs = new JobTracker();
  private readonly held: Reservations;
  private incarnations = 0;
  private draining = false;
  private updateTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly opts: ResolvedLiveKitOptions;

  constructor(
    private readonly target: DispatchTarget,
    private readonly registry: readonly AgentSpec[],
    options: LiveKitOptions,
    private readonly log: Logger,
  ) {
    this.opts = resolveLiveKitOptions(options);
    if (this.opts.deployment) {
      const problem = deploymentProblem(this.opts.deployment);
      if (problem) throw new Error(`LiveKit deployment '${this.opts.deployment}': ${problem}`);
    }
    this.held = new Reservations((jobId) => {
      this.log.warn(
        { job: jobId, timeoutMs: this.opts.assignmentTimeoutMs },
        'LiveKit job accepted but never assigned; its slot is free again',
      );
      this.refreshStatus();
    });
    this.links = registrationsOf(
      registry.map((a) => a.name),
      this.opts,
    ).map((spec) => this.makeLink(spec));
  }

  /** The worker id LiveKit gave the pool-wide registration (else the first); changes on every reconnect. */
  get workerId(): string | undefined {
    return (this.links.find((l) => l.spec.agent === undefined) ?? this.links[0])?.workerId;
  }

  /** Every registration: its agent name and current worker id (undefined while not registered). */
  registrations(): { agentName: string; agent?: string; workerId: string | undefined }[] {
    return this.links.map((l) => ({
      agentName: l.spec.agentName,
      ...(l.spec.agent ? { agent: l.spec.agent } : {}),
      workerId: l.registered ? l.workerId : undefined,
    }));
  }

  /** Connects and registers; reconnects by itself until `stop`. */
  start(): void {
    this.unsubscribe = this.target.onSession((e) => {
      const update = this.jobs.onState(e.session, e.state, e.error);
      if (update) this.sendJobUpdate(update);
      if (e.state === 'closed' || e.state === 'failed' || e.state === 'cancelled') this.refreshStatus();
    });
    this.updateTimer = setInterval(() => this.updateWorkers(), this.opts.updateIntervalMs);
    this.updateTimer.unref();
    for (const l of this.links) l.conn.start();
  }

  /** Takes no more jobs: reports WS_FULL and declines every availability request. */
  drain(): void {
    this.draining = true;
    this.updateWorkers();
  }

  /** Closes the connections for good (after the pool has drained, so final job statuses went out). */
  async stop(): Promise<void> {
    this.draining = true;
    clearInterval(this.updateTimer);
    this.held.clear();
    this.unsubscribe?.();
    for (const l of this.links) clearTimeout(l.registerTimer);
    await Promise.all(this.links.map((l) => l.conn.close()));
  }

  private makeLink(spec: RegistrationSpec): Link {
    const log = this.log.child({ agentName: spec.agentName });
    const link: Link = {
      spec,
      incarnation: 0,
      registered: false,
      workerId: undefined,
      lastStatus: undefined,
      registerTimer: undefined,
      log,
      conn: undefined as unknown as AgentConnection,
    };
    link.conn = new AgentConnection({
      url: this.opts.url,
      apiKey: this.opts.apiKey,
      apiSecret: this.opts.apiSecret,
      log,
      reconnect: this.opts.reconnect,
      pingIntervalMs: this.opts.pingIntervalMs,
      onOpen: () => this.register(link),
      onMessage: (m) => this.onMessage(link, m),
      onClose: (reason) => this.onClose(link, reason),
    });
    return link;
  }

  private register(l: Link): void {
    const { namespace, deployment, permissions } = this.opts;
    l.incarnation = ++this.incarnations;
    l.registered = false;
    l.conn.send(
      new WorkerMessage({
        message: {
          case: 'register',
          value: new RegisterWorkerRequest({
            type: JobType.JT_ROOM,
            agentName: l.spec.agentName,
            version: OPENRTC_VERSION,
            ...(namespace ? { namespace } : {}),
            ...(deployment ? { deployment } : {}),
            allowedPermissions: new ParticipantPermission({ ...permissions, agent: true }),
          }),
        },
      }),
    );
    clearTimeout(l.registerTimer);
    l.registerTimer = setTimeout(() => {
      if (!l.registered) l.conn.drop(`no register response within ${this.opts.registerTimeoutMs} ms`);
    }, this.opts.registerTimeoutMs);
    l.registerTimer.unref();
  }

  private onMessage(l: Link, msg: ServerMessage): void {
    const m = msg.message;
    if (!l.registered && m.case !== 'register') {
      l.log.warn({ type: m.case }, 'LiveKit message before the register response; ignored');
      return;
    }
    switch (m.case) {
      case 'register':
        if (l.registered) {
          l.log.warn('a second register response from LiveKit; ignored');
          return;
        }
        clearTimeout(l.registerTimer);
        l.registered = true;
        l.workerId = m.value.workerId;
        l.lastStatus = undefined;
        l.conn.healthy();
        l.log.info(
          {
            workerId: m.value.workerId,
            dispatch: l.spec.agentName ? 'explicit' : 'automatic',
            ...(l.spec.agent ? { agent: l.spec.agent } : {}),
            ...(this.opts.namespace ? { namespace: this.opts.namespace } : {}),
            ...(this.opts.deployment ? { deployment: this.opts.deployment } : {}),
            server: m.value.serverInfo?.version,
          },
          'registered with LiveKit',
        );
        this.updateWorker(l);
        break;
      case 'availability':
        this.onAvailability(l, m.value);
        break;
      case 'assignment':
        this.onAssignment(l, m.value);
        break;
      case 'termination':
        this.onTermination(l, m.value);
        break;
      default:
        break; // pong, or a message this version does not know
    }
  }

  /**
   * The socket closed. livekit-server forgets this worker's jobs (pkg/service/agentservice.go
   * deregisterWorker): no termination can reach them any more, and it ignores their statuses. Their
   * sessions keep running in their rooms until those rooms end; nothing more is sent for them.
   */
  private onClose(l: Link, reason: string): void {
    l.registered = false;
    clearTimeout(l.registerTimer);
    const released = this.held.releaseLink(l.incarnation);
    const orphans = this.jobs.orphan(l.incarnation);
    l.log.warn(
      {
        reason,
        ...(released ? { heldSlotsReleased: released } : {}),
        ...(orphans.length ? { orphaned: orphans.map((o) => `${o.jobId}:${o.session}`) } : {}),
      },
      orphans.length
        ? 'LiveKit connection closed; its jobs are orphaned: their sessions run on until their rooms end, their statuses are not sent'
        : 'LiveKit connection closed',
    );
  }

  private slots() {
    return { ...this.target.load(), reserved: this.held.size };
  }

  private onAvailability(l: Link, req: AvailabilityRequest): void {
    const job = req.job;
    if (!job) return;
    const decision = decideAvailability(this.registry, job, this.slots(), {
      ...(this.opts.explicitOnly ? { explicitOnly: true } : {}),
      ...(l.spec.agent !== undefined ? { agent: l.spec.agent } : {}),
      draining: this.draining,
    });
    const context = { job: job.id, room: job.room?.name, resuming: req.resuming };
    if (decision.accept) {
      // The slot is ours until the assignment arrives (livekit-server sends it right after this answer).
      this.held.hold(job.id, decision.agent, l.incarnation, this.opts.assignmentTimeoutMs);
      l.log.info({ ...context, agent: decision.agent, via: decision.via }, 'LiveKit job accepted');
    } else {
      l.log.info({ ...context, reason: decision.reason }, 'LiveKit job declined');
    }
    l.conn.send(
      new WorkerMessage({
        message: {
          case: 'availability',
          value: new AvailabilityResponse({
            jobId: job.id,
            available: decision.accept,
            ...(decision.accept
              ? { participantIdentity: agentIdentity(job.id), participantName: decision.agent }
              : {}),
          }),
        },
      }),
    );
    if (decision.accept) this.refreshStatus();
  }

  private onAssignment(l: Link, a: JobAssignment): void {
    const job = a.job;
    if (!job) return;
    const agent = this.held.release(job.id) ?? l.spec.agent;
    const route = routeRequestOf(job);
    const outcome = this.target.dispatch({
      ...(agent ? { agent } : {}),
      job: {
        id: job.id,
        room: route.room || job.id,
        ...(route.metadata ? { metadata: route.metadata } : {}),
        ...(route.roomMetadata ? { roomMetadata: route.roomMetadata } : {}),
      },
      ...(this.opts.explicitOnly ? { explicitOnly: true } : {}),
      // The job's url and token go to the worker untouched; LiveKit leaves url empty for "this server".
      transport: {
        kind: 'livekit',
        url: a.url || this.opts.url,
        token: a.token,
        job: job.toJson() as Extract<Transport, { kind: 'livekit' }>['job'],
      },
    });
    if (!outcome.ok) {
      l.log.warn({ job: job.id, err: outcome.error }, 'LiveKit job could not be placed');
      this.sendJobUpdate(
        {
          jobId: job.id,
          status: JobStatus.JS_FAILED,
          error: `${outcome.error.code}: ${outcome.error.message}`,
        },
        l,
      );
      this.refreshStatus();
      return;
    }
    this.jobs.add(job.id, outcome.session, l.incarnation);
    l.log.info(
      { job: job.id, session: outcome.session, worker: outcome.worker, agent: outcome.agent },
      'LiveKit job assigned to a session',
    );
  }

  /** Only the connection that holds a job hears its termination; the server has closed the job already. */
  private onTermination(l: Link, t: JobTermination): void {
    const session = this.jobs.sessionOf(t.jobId);
    if (!session) {
      l.log.debug({ job: t.jobId }, 'termination of a job with no running session');
      return;
    }
    this.jobs.terminated(t.jobId);
    l.log.info({ job: t.jobId, session }, 'LiveKit terminated the job; cancelling its session');
    void this.cancel(l, t.jobId, session);
  }

  /**
   * livekit-server removes the agent participant 3 s after a dispatch deletion (pkg/rtc/room.go
   * waitForParticipantLeaving), so the cancel goes out at once. A worker that does not know the
   * session yet (its start is in flight) is asked again, briefly and often.
   */
  private async cancel(l: Link, jobId: string, session: string): Promise<void> {
    const until = Date.now() + CANCEL_RETRY_WINDOW_MS;
    for (;;) {
      const error = await this.target.cancel(session, 'terminated by LiveKit');
      if (!error) return;
      if (error.code !== 'unknown_session' || Date.now() >= until) {
        l.log.warn({ job: jobId, session, err: error }, 'could not cancel a terminated job');
        return;
      }
      await new Promise((r) => setTimeout(r, CANCEL_RETRY_EVERY_MS));
    }
  }

  /** Load counts placed sessions and held slots, over the pool's capacity; the same on every registration. */
  private loadNow() {
    const { active, capacity, reserved } = this.slots();
    const load = capacity > 0 ? Math.min(1, (active + reserved) / capacity) : 1;
    const status =
      this.draining || load >= this.opts.loadThreshold ? WorkerStatus.WS_FULL : WorkerStatus.WS_AVAILABLE;
    return { active, capacity, reserved, load, status };
  }

  private updateWorkers(): void {
    for (const l of this.links) this.updateWorker(l);
  }

  /** Sends updateWorker at once where the status would change (the periodic one does the rest). */
  private refreshStatus(): void {
    const { status } = this.loadNow();
    for (const l of this.links) if (l.registered && l.lastStatus !== status) this.updateWorker(l);
  }

  private updateWorker(l: Link): void {
    if (!l.registered) return;
    const { active, capacity, reserved, load, status } = this.loadNow();
    if (status !== l.lastStatus) {
      l.log.info(
        { load, active, capacity, reserved, threshold: this.opts.loadThreshold, draining: this.draining },
        status === WorkerStatus.WS_FULL ? 'LiveKit: pool reported full' : 'LiveKit: pool reported available',
      );
      l.lastStatus = status;
    }
    l.conn.send(
      new WorkerMessage({
        message: {
          case: 'updateWorker',
          // job_count is not read by livekit-server; it is this registration's running jobs.
          value: new UpdateWorkerStatus({ status, load, jobCount: this.jobs.countOn(l.incarnation) }),
        },
      }),
    );
  }

  /** A job's status goes to the connection it was assigned on, and only while that one is registered. */
  private sendJobUpdate(u: JobUpdate, on?: Link): void {
    const l = on ?? this.links.find((x) => x.incarnation === u.link);
    const { jobId, status, error } = u;
    const sent =
      l?.registered === true &&
      l.incarnation === (u.link ?? l.incarnation) &&
      l.conn.send(
        new WorkerMessage({
          message: { case: 'updateJob', value: new UpdateJobStatus({ jobId, status, error }) },
        }),
      );
    (l?.log ?? this.log)[sent ? 'info' : 'warn'](
      { job: jobId, status: JobStatus[status], ...(error ? { error } : {}) },
      sent ? 'LiveKit job status sent' : 'LiveKit job status lost: not connected',
    );
  }
}
