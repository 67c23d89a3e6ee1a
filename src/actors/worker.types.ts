import type { AgentSpec, ErrorCode, ErrorData, WorkerState } from '../protocol/index.ts';

export interface WorkerInput {
  workerId: string;
  /** Sessions this worker hosts at most. */
  capacity: number;
  /** How long a drain waits for sessions before cancelling them. */
  drainTimeoutMs: number;
  /** After cancelling, how long to wait for the cancelled sessions before stopping anyway. */
  drainGraceMs?: number;
}

/** What the supervisor's welcome gives the worker. */
export interface Welcome {
  version: number;
  agents: AgentSpec[];
  heartbeatMs: number;
}

/** What the prewarm actor resolves with. */
export interface PrewarmDone {
  ms: number;
}

export interface WorkerFailure {
  phase: 'register' | 'prewarm';
  code: ErrorCode;
  message: string;
}

/** Plain data only. */
export interface WorkerContext {
  workerId: string;
  capacity: number;
  drainTimeoutMs: number;
  drainGraceMs: number;
  /** Ids of the sessions admitted and not yet finished, in admission order. */
  sessions: string[];
  version: number | null;
  agents: AgentSpec[];
  heartbeatMs: number | null;
  /** How long the shared prewarm took, when the prewarm actor reports it. */
  prewarmMs: number | null;
  failure: WorkerFailure | null;
  /** The state last entered; null before the first. */
  state: WorkerState | null;
  /** Transition counter: 1 on starting, +1 per state entered. */
  seq: number;
}

export type WorkerEvent =
  /** The runtime is connected to NATS: say hello. */
  | { type: 'STARTED' }
  | { type: 'SESSION_ADMIT'; sessionId: string }
  | { type: 'SESSION_FINISHED'; sessionId: string }
  | { type: 'DRAIN'; timeoutMs?: number }
  | { type: 'SHUTDOWN'; reason?: string };

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

export type WorkerEmitted = WorkerTransition | SessionAdmitted | SessionRefused;

export interface WorkerOutput {
  workerId: string;
  state: WorkerState | null;
  failure: WorkerFailure | null;
  /** Sessions still listed when the worker stopped (a drain that ran out of grace, or a shutdown). */
  sessions: string[];
}
