import type {
  AgentSpec,
  ErrorData,
  JobDescriptor,
  LocalAudioInput,
  MessageBody,
  MessageType,
  SessionState,
  Transport,
  WorkerState,
} from '../protocol/index.ts';
import type { BreakerConfig, BreakerView, LimitsConfig } from './pool-limits.ts';
import type { RestartPolicy, RestartType } from './restart-policy.ts';

export type Health = 'ok' | 'degraded' | 'draining';
export type Supervision = 'up' | 'restarting' | 'given_up' | 'stopped' | 'remote';
export type SupervisorState = 'running' | 'draining' | 'stopped';

export interface SupervisorInput {
  pool: string;
  registry: AgentSpec[];
  /** Workers this supervisor spawns and restarts; every other worker that says hello is remote. */
  localWorkers?: { id: string; capacity?: number; spare?: boolean }[];
  policy?: {
    restart?: RestartType;
    intensity?: Partial<RestartPolicy['intensity']>;
    backoff?: Partial<RestartPolicy['backoff']>;
  };
  /** Interval of worker heartbeats, and of the supervisor's loss check. Default 1000. */
  heartbeatMs?: number;
  /** Heartbeats a worker may miss before it is declared lost. Default 3. */
  missedHeartbeats?: number;
  /** How long a spawned worker has to say hello. Default 30000. */
  helloTimeoutMs?: number;
  /** How long a placed session may stay unreported by its worker. Default heartbeatMs × missedHeartbeats. */
  placementGraceMs?: number;
  /** Drain timeout sent to workers when DRAIN names none. Default 30000. */
  drainTimeoutMs?: number;
  /** Extra wait after the drain timeout before stopping anyway. Default 5000. */
  drainGraceMs?: number;
  /** Ended sessions kept for status and idempotent dispatch. Default 500. */
  endedLimit?: number;
  /** Time (ms) when the machine starts; the loss-check clock counts from here. Default 0. */
  now?: number;
  /** Seed of the restart-backoff jitter. */
  seed?: number;
  /** Per-agent and per-tenant caps on concurrent sessions (docs/operations.md). Default: none. */
  limits?: Partial<LimitsConfig>;
  /** The per-agent circuit breaker. Default: none (never opens). */
  breaker?: BreakerConfig;
  /** Ended sessions restored from the durable record (oldest first); the newest endedLimit are kept. */
  ended?: SessionView[];
}

export interface WorkerView {
  id: string;
  /** The live incarnation; null while none is (not yet said hello, lost, exited). */
  epoch: string | null;
  pid: number | null;
  host: string | null;
  state: WorkerState;
  supervision: Supervision;
  local: boolean;
  capacity: number;
  /** Sessions on it that have not ended, as the supervisor tracks them. */
  active: number;
  rssBytes: number;
  prewarmMs: number | null;
  restarts: number;
  /** Times of the restarts inside the intensity window. */
  restartHistory: number[];
  lastSeen: number | null;
  /** When this incarnation was spawned or said hello. */
  since: number;
  /** Why the worker last failed (its own report, or how its process ended); cleared by its next hello. */
  error?: ErrorData;
  /**
   * A hot spare: a prewarmed local worker that takes no sessions until a worker is lost, when it
   * takes that worker's place at once (and the lost one restarts as the new spare).
   */
  spare?: boolean;
  /** The worker's own rejection counters, from its latest heartbeat. */
  rejected: Record<string, number>;
  /**
   * Earlier incarnations that really said hello and were then declared lost or replaced, newest
   * last (at most LOST_EPOCHS_KEPT). If one still speaks it was hung, not dead: it is told to shut
   * down, once, and leaves this list. A forged epoch is never in it, so it never gets a command.
   */
  lostEpochs: string[];
  /**
   * Its generation (docs/operations.md): local workers get theirs when spawned (1, then one more
   * per rollout); a remote worker gets one from its code version (the generation of workers with
   * the same code, or a new one). 0 while unknown.
   */
  generation: number;
  /** The code version it reported (a hash of the agent modules it loaded); null before it did. */
  code: string | null;
  /** Started by a rollout that is not done: takes no sessions until every worker of the rollout is ready. */
  pending?: true;
  /** Drained by a rollout (an older generation): it is never restarted, and leaves the pool once down. */
  retiring?: true;
}

/** A rolling upgrade: a new generation of local workers, then the older generations drain. */
export interface RolloutView {
  requestId: string;
  generation: number;
  state: 'starting' | 'done' | 'failed';
  startedAt: number;
  endedAt: number | null;
  /** Past this the rollout fails if its workers are not all ready. */
  deadline: number;
  workers: string[];
  /** Workers of older generations it drained. */
  drained: string[];
  error?: ErrorData;
}

/** What starting a session on a worker needs, kept until the worker reports it (it may have to move). */
export interface SessionStart {
  job: JobDescriptor;
  transport: Transport;
}

export interface SessionView {
  session: string;
  agent: string;
  worker: string;
  jobId: string;
  room: string;
  state: SessionState;
  /** Highest seq accepted from the worker; 0 while only placed. */
  seq: number;
  createdAt: number;
  since: number;
  error?: ErrorData;
  /** The worker has reported this session at least once. */
  confirmed: boolean;
  /** Its end has been emitted (`session.ended` or `session.lost`); nothing changes it any more. */
  reported: boolean;
  /** User speech starts and ends its worker reported. */
  speech: { start: number; end: number };
  /** The tenant named in its job metadata, when it counts against a tenant cap. */
  tenant?: string;
  /**
   * The job and transport it was placed with, while its worker has not reported it: if that
   * worker's process dies first, the session moves with them. Dropped once confirmed or ended.
   */
  start?: SessionStart;
}

/** Plain data only. */
export interface SupervisorContext {
  pool: string;
  registry: AgentSpec[];
  policy: RestartPolicy;
  heartbeatMs: number;
  missedHeartbeats: number;
  helloTimeoutMs: number;
  placementGraceMs: number;
  drainTimeoutMs: number;
  drainGraceMs: number;
  endedLimit: number;
  workers: Record<string, WorkerView>;
  /** Live sessions: placed, adopted or running, not yet ended. Bounded by the workers' capacity. */
  sessions: Record<string, SessionView>;
  /** Job id → live session id: a repeated job gets the same session (ended ones: see `ended`). */
  jobs: Record<string, string>;
  /**
   * The record of ended sessions with their outcomes, oldest first; the oldest are forgotten past
   * endedLimit (with their seq and job id). An array, not a map: an end appends one reference.
   */
  ended: SessionView[];
  health: Health;
  /** Latest time seen, from events and loss-check ticks. */
  now: number;
  /** Time of the last loss-check tick. */
  clock: number;
  rng: number;
  /** Messages ignored, by reason (stale_epoch, stale_seq, unknown_worker, unknown_session...). */
  rejected: Record<string, number>;
  /**
   * The supervisor's own NATS link is down: silence proves nothing about workers, so the loss
   * check is suspended (and restarts a full window when the link returns).
   */
  busDown: boolean;
  /**
   * Everything the NATS server had for the supervisor when this time came has been processed (its
   * `HEARD` ping's reply came back, behind every message queued before it); null until the first.
   * Silence is judged up to here, not up to `now`: a supervisor behind on its own inbound messages
   * (a flood, a stalled event loop) has the workers' heartbeats queued, not missing.
   */
  heardUpTo: number | null;
  /** When the last `supervisor.up` was asked for (start, or a message from a worker that never said hello). */
  announcedAt: number | null;
  /** The drain: when it began, and how many sessions it cut short (ended other than `closed` since). */
  drain: { since: number | null; cut: number };
  /** Seq of the supervisor's own transitions. */
  seq: number;
  /** Caps on concurrent sessions per agent and per tenant. */
  limits: LimitsConfig;
  /** The circuit breaker's settings (null: off) and each agent's breaker that has left closed or seen failures. */
  breaker: BreakerConfig | null;
  breakers: Record<string, BreakerView>;
  /** The newest generation number given out so far (0: none yet). */
  generation: number;
  /** The latest rollout, and how it went; null before the first. */
  rollout: RolloutView | null;
}

type Body<T extends MessageType> = Omit<MessageBody<T>, 'type'>;

export interface DispatchJob {
  id?: string;
  room?: string;
  metadata?: string;
  roomMetadata?: string;
}

export type SupervisorEvent =
  | ({ type: 'WORKER_HELLO'; now: number } & Body<'hello'>)
  | ({ type: 'HEARTBEAT'; now: number } & Body<'heartbeat'>)
  | ({ type: 'WORKER_STATE'; now: number } & Body<'worker.state'>)
  | ({ type: 'SESSION_STATE'; now: number } & Body<'session.state'>)
  | ({ type: 'SESSION_ENDED'; now: number } & Body<'session.ended'>)
  | ({ type: 'SESSION_SPEECH'; now: number } & Body<'session.speech'>)
  /** A message refused at ingress (e.g. `from_mismatch`), counted with the machine's own. */
  | { type: 'REJECTED'; reason: string }
  /**
   * A local worker process was started (after `worker.spawn`): its pid, so that the exit of an
   * earlier incarnation (a hung one killed after its replacement started) is told apart.
   */
  | { type: 'WORKER_SPAWNED'; now: number; worker: string; pid: number }
  | {
      type: 'WORKER_EXITED';
      now: number;
      worker: string;
      pid?: number | null;
      code: number | null;
      signal: string | null;
    }
  | {
      type: 'DISPATCH';
      now: number;
      requestId: string;
      /** Pre-generated by the runtime. */
      sessionId: string;
      agent?: string;
      job?: DispatchJob;
      explicitOnly?: boolean;
      /** How the session gets its audio; absent: local, with `audio` as input (default 1 s of silence). */
      transport?: Transport;
      audio?: LocalAudioInput;
    }
  /**
   * session.start to `worker` failed (error reply or timeout). Ignored when the session has moved
   * to another worker meanwhile.
   */
  | { type: 'PLACE_FAILED'; now: number; sessionId: string; worker?: string; error: ErrorData }
  | { type: 'DRAIN'; now: number; timeoutMs?: number }
  /**
   * A rolling upgrade: spawn `workers` (ids chosen by the runtime) as a new generation; once all
   * are ready, drain every older generation. With no workers (a pool of remote workers only), the
   * newest ready generation becomes the one, and the older ones drain.
   */
  | {
      type: 'ROLLOUT';
      now: number;
      requestId: string;
      workers: { id: string; capacity: number; spare?: boolean }[];
      /** How long the new generation may take to be ready. Default 120000. */
      timeoutMs?: number;
    }
  /** The supervisor's NATS connection went down or came back. */
  | { type: 'BUS'; now: number; connected: boolean }
  /**
   * A ping through the supervisor's NATS connection, sent at `upTo`, came back at `now`: every
   * message the server had for it before `upTo` has been processed.
   */
  | { type: 'HEARD'; now: number; upTo: number }
  /** Internal: the periodic loss check. */
  | { type: 'TICK' }
  /** Internal: a restart's backoff has elapsed. */
  | { type: 'RESPAWN'; worker: string; at: number };

export type DispatchResult =
  | {
      type: 'dispatch.result';
      requestId: string;
      ok: true;
      session: string;
      worker: string;
      agent: string;
      jobId: string;
      existing: boolean;
    }
  | { type: 'dispatch.result'; requestId: string; ok: false; error: ErrorData };

export type SupervisorEmitted =
  | {
      type: 'supervisor.transition';
      from: SupervisorState | null;
      to: SupervisorState;
      seq: number;
      event: string;
    }
  | DispatchResult
  | {
      type: 'session.place';
      requestId: string;
      sessionId: string;
      worker: string;
      agent: string;
      job: JobDescriptor;
      transport: Transport;
      /** Present when the session moves off a worker that died before starting it. */
      moved?: true;
    }
  | {
      type: 'session.lost';
      sessionId: string;
      worker: string;
      agent: string;
      jobId: string;
      /** One past the last seq its worker reported: the supervisor's own verdict. */
      seq: number;
      error: ErrorData;
    }
  | {
      type: 'session.ended';
      sessionId: string;
      worker: string;
      agent: string;
      jobId: string;
      state: SessionState;
      seq: number;
      error?: ErrorData;
    }
  /** The worker still runs a session the supervisor has already reported ended: stop it. */
  | { type: 'session.cancel'; sessionId: string; worker: string; reason: string }
  /** Start (or restart) a local worker process. `attempt` is 0 for the first start. */
  | { type: 'worker.spawn'; worker: string; attempt: number; restarts: number }
  | { type: 'worker.kill'; worker: string; pid: number | null; reason: string }
  /** A ready spare took a lost worker's place; the lost worker restarts as the new spare. */
  | { type: 'worker.promoted'; worker: string; replaces: string; reason: string }
  | { type: 'worker.drain'; worker: string; timeoutMs: number }
  | {
      type: 'worker.given_up';
      worker: string;
      restarts: number;
      maxRestarts: number;
      periodMs: number;
      reason: string;
    }
  | { type: 'worker.fenced'; worker: string; epoch: string; messageType: string; reason: string }
  /** A fenced incarnation that said hello still speaks (it was hung, not dead): stop it, and only it. */
  | { type: 'worker.shutdown'; worker: string; epoch: string; reason: string }
  /** Ask every worker to say hello again (`supervisor.up`): at start, and when an unknown worker speaks. */
  | { type: 'supervisor.announce'; reason: string }
  | { type: 'pool.health'; health: Health; previous: Health }
  /** A rollout was refused, or has ended (done, or failed: the older generation serves on). */
  | { type: 'rollout.result'; requestId: string; ok: true; rollout: RolloutView }
  | { type: 'rollout.result'; requestId: string; ok: false; error: ErrorData; rollout?: RolloutView }
  /** An agent's circuit breaker changed state. */
  | {
      type: 'agent.breaker';
      agent: string;
      state: BreakerView['state'];
      previous: BreakerView['state'];
      failures: number;
      reason: string;
    };
