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
import { decideAvailability, routeRequestOf } from './availability.ts';
import { AgentConnection } from './connection.ts';
import { JobTracker, type JobUpdate } from './job-status.ts';
import {
  agentIdentity,
  type LiveKitOptions,
  type ResolvedLiveKitOptions,
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

/**
 * The supervisor as one LiveKit agent worker: it registers the pool (JT_ROOM), answers
 * availability by routing and capacity, turns assignments into dispatches over NATS and
 * terminations into cancels, reports load every `updateIntervalMs` and each job's status.
 */
export class LiveKitDispatcher {
  /** The worker id LiveKit gave this registration (changes on every reconnect). */
  workerId: string | undefined;
  private readonly conn: AgentConnection;
  private readonly jobs = new JobTracker();
  /** Agent chosen at availability, by job id, until the assignment arrives. */
  private readonly accepted = new Map<string, string>();
  private registered = false;
  private draining = false;
  private lastStatus: WorkerStatus | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
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
    this.conn = new AgentConnection({
      url: this.opts.url,
      apiKey: this.opts.apiKey,
      apiSecret: this.opts.apiSecret,
      log,
      reconnect: this.opts.reconnect,
      pingIntervalMs: this.opts.pingIntervalMs,
      onOpen: () => this.register(),
      onMessage: (m) => this.onMessage(m),
      onClose: (reason) => this.onClose(reason),
    });
  }

  /** Connects and registers; reconnects by itself until `stop`. */
  start(): void {
    this.unsubscribe = this.target.onSession((e) => {
      const update = this.jobs.onState(e.session, e.state, e.error);
      if (update) this.sendJobUpdate(update);
    });
    this.updateTimer = setInterval(() => this.updateWorker(), this.opts.updateIntervalMs);
    this.updateTimer.unref();
    this.conn.start();
  }

  /** Takes no more jobs: reports WS_FULL and declines every availability request. */
  drain(): void {
    this.draining = true;
    this.updateWorker();
  }

  /** Closes the connection for good (after the pool has drained, so final job statuses went out). */
  async stop(): Promise<void> {
    this.draining = true;
    clearInterval(this.updateTimer);
    clearTimeout(this.registerTimer);
    this.unsubscribe?.();
    await this.conn.close();
  }

  private register(): void {
    const { agentName, namespace, permissions } = this.opts;
    this.conn.send(
      new WorkerMessage({
        message: {
          case: 'register',
          value: new RegisterWorkerRequest({
            type: JobType.JT_ROOM,
            agentName: agentName ?? '',
            version: OPENRTC_VERSION,
            ...(namespace ? { namespace } : {}),
            allowedPermissions: new ParticipantPermission({ ...permissions, agent: true }),
          }),
        },
      }),
    );
    clearTimeout(this.registerTimer);
    this.registerTimer = setTimeout(() => {
      if (!this.registered) this.conn.drop(`no register response within ${this.opts.registerTimeoutMs} ms`);
    }, this.opts.registerTimeoutMs);
    this.registerTimer.unref();
  }

  private onMessage(msg: ServerMessage): void {
    const m = msg.message;
    if (!this.registered && m.case !== 'register') {
      this.log.warn({ type: m.case }, 'LiveKit message before the register response; ignored');
      return;
    }
    switch (m.case) {
      case 'register':
        clearTimeout(this.registerTimer);
        this.registered = true;
        this.workerId = m.value.workerId;
        this.lastStatus = undefined;
        this.conn.healthy();
        this.log.info(
          {
            workerId: m.value.workerId,
            agentName: this.opts.agentName ?? '',
            dispatch: this.opts.agentName ? 'explicit' : 'automatic',
            server: m.value.serverInfo?.version,
          },
          'registered with LiveKit',
        );
        this.updateWorker();
        break;
      case 'availability':
        this.onAvailability(m.value);
        break;
      case 'assignment':
        this.onAssignment(m.value);
        break;
      case 'termination':
        this.onTermination(m.value);
        break;
      default:
        break; // pong, or a message this version does not know
    }
  }

  private onClose(reason: string): void {
    this.registered = false;
    this.log.warn({ reason, jobs: this.jobs.size }, 'LiveKit connection closed; sessions keep running');
  }

  private onAvailability(req: AvailabilityRequest): void {
    const job = req.job;
    if (!job) return;
    const decision = decideAvailability(this.registry, job, this.target.load(), {
      ...(this.opts.explicitOnly ? { explicitOnly: true } : {}),
      draining: this.draining,
    });
    const context = { job: job.id, room: job.room?.name, resuming: req.resuming };
    if (decision.accept) {
      this.accepted.set(job.id, decision.agent);
      // LiveKit assigns within seconds or gives up; never let unassigned acceptances pile up.
      if (this.accepted.size > 1000) this.accepted.delete(this.accepted.keys().next().value as string);
      this.log.info({ ...context, agent: decision.agent, via: decision.via }, 'LiveKit job accepted');
    } else {
      this.log.info({ ...context, reason: decision.reason }, 'LiveKit job declined');
    }
    this.conn.send(
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
  }

  private onAssignment(a: JobAssignment): void {
    const job = a.job;
    if (!job) return;
    const agent = this.accepted.get(job.id);
    this.accepted.delete(job.id);
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
      this.log.warn({ job: job.id, err: outcome.error }, 'LiveKit job could not be placed');
      this.sendJobUpdate({
        jobId: job.id,
        status: JobStatus.JS_FAILED,
        error: `${outcome.error.code}: ${outcome.error.message}`,
      });
      return;
    }
    this.jobs.add(job.id, outcome.session);
    this.log.info(
      { job: job.id, session: outcome.session, worker: outcome.worker, agent: outcome.agent },
      'LiveKit job assigned to a session',
    );
  }

  private onTermination(t: JobTermination): void {
    const session = this.jobs.sessionOf(t.jobId);
    if (!session) {
      this.log.debug({ job: t.jobId }, 'termination of a job with no running session');
      return;
    }
    this.jobs.terminated(t.jobId);
    this.log.info({ job: t.jobId, session }, 'LiveKit terminated the job; cancelling its session');
    void this.cancel(t.jobId, session);
  }

  /** The worker may not know the session yet (its start is in flight): retry briefly. */
  private async cancel(jobId: string, session: string): Promise<void> {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const error = await this.target.cancel(session, 'terminated by LiveKit');
      if (!error || this.jobs.sessionOf(jobId) !== session) return;
      if (error.code !== 'unknown_session' || attempt === 10) {
        this.log.warn({ job: jobId, session, err: error }, 'could not cancel a terminated job');
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private updateWorker(): void {
    if (!this.registered) return;
    const { active, capacity } = this.target.load();
    const load = capacity > 0 ? Math.min(1, active / capacity) : 1;
    const status =
      this.draining || load >= this.opts.loadThreshold ? WorkerStatus.WS_FULL : WorkerStatus.WS_AVAILABLE;
    if (status !== this.lastStatus) {
      this.log.info(
        { load, active, capacity, threshold: this.opts.loadThreshold, draining: this.draining },
        status === WorkerStatus.WS_FULL ? 'LiveKit: pool reported full' : 'LiveKit: pool reported available',
      );
      this.lastStatus = status;
    }
    this.conn.send(
      new WorkerMessage({
        message: {
          case: 'updateWorker',
          value: new UpdateWorkerStatus({ status, load, jobCount: this.jobs.size }),
        },
      }),
    );
  }

  private sendJobUpdate(u: JobUpdate): void {
    const sent = this.conn.send(
      new WorkerMessage({ message: { case: 'updateJob', value: new UpdateJobStatus(u) } }),
    );
    this.log[sent ? 'info' : 'warn'](
      { job: u.jobId, status: JobStatus[u.status], ...(u.error ? { error: u.error } : {}) },
      sent ? 'LiveKit job status sent' : 'LiveKit job status lost: not connected',
    );
  }
}
