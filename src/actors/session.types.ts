import type { ErrorCode, ErrorData, SessionPhase, SessionState } from '../protocol/index.ts';
import type { ResolvedLimits } from './session.limits.ts';

export type CloseReason = 'ended' | 'cancelled' | 'failed';

export interface SessionFailure {
  phase: SessionPhase;
  code: ErrorCode;
  message: string;
}

export interface SessionInput {
  sessionId: string;
  /** Agent name. */
  agent: string;
  /** Worker id. */
  worker: string;
  limits: ResolvedLimits;
  hasGreeting: boolean;
  /** Seed of the connect-backoff jitter; defaults to a hash of the session id. */
  seed?: number;
}

/** Plain data only: any snapshot can be published, persisted and drawn. */
export interface SessionContext {
  sessionId: string;
  agent: string;
  worker: string;
  limits: ResolvedLimits;
  hasGreeting: boolean;
  /** The protocol state last entered; null before the first. */
  state: SessionState | null;
  /** Per-session transition counter: 1 on prewarming, +1 on every state entered. */
  seq: number;
  /** Connect attempt in progress (1-based); 0 before connecting. */
  attempt: number;
  /** Delay of the pending connect retry. */
  backoffMs: number;
  /** Jitter generator state. */
  rng: number;
  lastError: ErrorData | null;
  closeReason: CloseReason | null;
  cancelReason: string | null;
  failure: SessionFailure | null;
  /** What went wrong without deciding the outcome: a skipped greeting, a failed close after cancel. */
  warnings: SessionFailure[];
}

export type SessionEvent =
  | { type: 'TRANSPORT_ENDED'; reason?: string }
  | { type: 'CANCEL'; reason?: string }
  | { type: 'FAIL'; code: ErrorCode; message: string };

export interface SessionTransition {
  type: 'session.transition';
  sessionId: string;
  from: SessionState | null;
  to: SessionState;
  seq: number;
  /** Type of the event that caused the transition. */
  event: string;
  /** Present when `to` is `failed`, or `closing` because the session failed. */
  failure?: SessionFailure;
}

/** A connect attempt failed and another follows after `delayMs`. */
export interface SessionRetry {
  type: 'session.retry';
  sessionId: string;
  attempt: number;
  delayMs: number;
  error: ErrorData;
}

export type SessionEmitted = SessionTransition | SessionRetry;

export interface SessionOutput {
  sessionId: string;
  state: SessionState | null;
  seq: number;
  failure: SessionFailure | null;
  warnings: SessionFailure[];
}
