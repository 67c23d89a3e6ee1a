import type {
  AgentSpec,
  EndedSession,
  ErrorCode,
  ErrorData,
  MessageBody,
  WorkerState,
} from '../protocol/index.ts';
import type { SessionFailure } from './session.types.ts';

export interface WorkerInput {
  workerId: string;
  /** This incarnation of the worker id: the supervisor fences messages of an older one. */
  epoch?: string;
  /** Sessions this worker hosts at most. */
  capacity: number;
  /** How long a drain waits for sessions before cancelling them. */
  drainTimeoutMs: number;
  /** After cancelling, how long to wait for the cancelled sessions before stopping anyway. */
  drainGraceMs?: number;
  /** How many ended sessions the record keeps (at most ENDED_RECORD_LIMIT). */
  endedLimit?: number;
  /** Seed of the registration backoff's jitter; defaults to a hash of the worker id. */
  seed?: number;
}

/** What the supervisor's welcome gives the worker. */
export interface Welcome {
  version: number;
  agents: AgentSpec[];
  heartbeatMs: number;
  /** Who welcomed it: the supervisor actor, this worker's parent in the actor tree. */
  supervisor?: string;
}

/**
 * What the register actor rejects with. `retryable` says the supervisor could not be reached
 * (timeout, no responders, own NATS link down): the chart waits and says hello again. Anything
 * else (a refused hello) fails the worker.
 */
export interface RegisterError extends ErrorData {
  retryable?: boolean;
}

/** What the prewarm actor resolves with. */
export interface PrewarmDone {
  ms: number;
  /** The code version of the agent modules it loaded (docs/operations.md). */
  code?: string;
}

export interface WorkerFailure {
  phase: 'register' | 'prewarm';
  code: ErrorCode;
  message: string;
}

/** What `session.start` asks for, without the envelope: the job, the transport and the limits. */
export type SessionRequest = Omit<MessageBody<'session.start'>, 'type'>;

/** A session this worker admitted and that has not ended. Its state and seq live in its own actor. */
export interface HostedSession {
  session: string;
  agent: string;
  jobId: string;
  room: string;
  /** When this worker admitted it (the worker's clock). */
  admittedAt: number;
  /** What its driver needs: the request as the supervisor sent it. */
  request: SessionRequest;
}

/** Registration progress: how many hellos went unanswered, and the backoff before the next. */
export interface Registration {
  attempt: number;
  delayMs: number;
  /** Jitter generator state (see backoff.ts). */
  rng: number;
  lastError: ErrorData | null;
}

/** Plain data only. Session actors are children (`snapshot.children[sessionId]`), not context. */
export interface WorkerContext {
  workerId: string;
  epoch: string;
  capacity: number;
  drainTimeoutMs: number;
  drainGraceMs: number;
  /** Sessions admitted and not yet ended, in admission order. */
  sessions: HostedSession[];
  /** The bounded record of ended sessions, oldest first: the last `endedLimit`, none older than 10 minutes. */
  ended: EndedSession[];
  endedLimit: number;
  /** The NATS link: while it is down, ends are kept to be repeated in the first heartbeat after. */
  link: { up: boolean; downSince: number | null };
  registration: Registration;
  /** The supervisor that welcomed this worker; null before the welcome. */
  supervisor: string | null;
  version: number | null;
  agents: AgentSpec[];
  heartbeatMs: number | null;
  /** How long the shared prewarm took, when the prewarm actor reports it. */
  prewarmMs: number | null;
  /** The code version of the agent modules this process loaded; null before its prewarm. */
  code: string | null;
  failure: WorkerFailure | null;
  /** The state last entered; null before the first. */
  state: WorkerState | null;
  /** Transition counter: 1 on starting, +1 per state entered. */
  seq: number;
}

/** How a session actor ended, as the runtime saw its last transition (at `now`). */
export interface SessionEnd {
  type: 'SESSION_ENDED';
  sessionId: string;
  state: 'closed' | 'failed' | 'cancelled';
  seq: number;
  failure?: SessionFailure;
  now: number;
}

export type WorkerEvent =
  /** The runtime is connected to NATS: say hello. */
  | { type: 'STARTED' }
  | { type: 'SESSION_ADMIT'; request: SessionRequest; now: number }
  | { type: 'SESSION_CANCEL'; sessionId: string; reason?: string }
  | SessionEnd
  | { type: 'DRAIN'; timeoutMs?: number }
  | { type: 'SHUTDOWN'; reason?: string }
  /** The NATS link went down or came back. */
  | { type: 'LINK'; up: boolean; now: number }
  /** A (re)started supervisor asks every worker to say hello again. */
  | { type: 'SUPERVISOR_UP' }
  /** The answer to a hello said again: the registry may have changed. */
  | { type: 'WELCOMED'; welcome: Welcome }
  /** From the heartbeat actor: report now. */
  | { type: 'BEAT' };

export interface WorkerTransition {
  type: 'worker.transition';
  workerId: string;
  from: WorkerState | null;
  to: WorkerState;
  seq: number;
  event: string;
  /** Present when `to` is `failed`. */
  failure?: WorkerFailure;
}

export interface SessionAdmitted {
  type: 'session.admitted';
  workerId: string;
  sessionId: string;
  active: number;
  capacity: number;
}

export interface SessionRefused {
  type: 'session.refused';
  workerId: string;
  sessionId: string;
  error: ErrorData;
}

/** A session ended: report it (the record keeps it too, with its error message cut short). */
export interface SessionEndedEmitted {
  type: 'session.ended';
  workerId: string;
  ended: EndedSession;
  /** The failure in full, when it failed. */
  failure?: SessionFailure;
}

/**
 * Time to publish a heartbeat. `endsSince` is when the NATS link went down, if this beat follows
 * an outage: ends since then are repeated (see `heartbeatBody`).
 */
export interface HeartbeatDue {
  type: 'worker.heartbeat';
  workerId: string;
  endsSince: number | null;
}

/** Say hello again (a new supervisor asked): the runtime sends `helloBody` and answers WELCOMED. */
export interface HelloDue {
  type: 'worker.hello';
  workerId: string;
}

/** The supervisor could not be reached; the next hello follows after `delayMs`. */
export interface RegisterRetry {
  type: 'worker.register_retry';
  workerId: string;
  attempt: number;
  delayMs: number;
  error: ErrorData;
}

export type WorkerEmitted =
  | WorkerTransition
  | SessionAdmitted
  | SessionRefused
  | SessionEndedEmitted
  | HeartbeatDue
  | HelloDue
  | RegisterRetry;

export interface WorkerOutput {
  workerId: string;
  state: WorkerState | null;
  failure: WorkerFailure | null;
  /** Sessions still listed when the worker stopped (a drain that ran out of grace, or a shutdown). */
  sessions: string[];
}
