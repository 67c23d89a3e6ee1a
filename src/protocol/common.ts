import { z } from 'zod';

/** A token that is safe inside a NATS subject: no dots, wildcards or spaces. */
export const SubjectToken = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -');

export const MessageId = z.string().min(1).max(128);
export const UnixMs = z.number().int().nonnegative();
export const Count = z.number().int().nonnegative();
/** Per-session sequence number: starts at 1, increases by one per transition. */
export const Seq = z.number().int().positive();

export const SESSION_STATES = [
  'prewarming',
  'connecting',
  'greeting',
  'active',
  'closing',
  'closed',
  'failed',
  'cancelled',
] as const;
export const SessionState = z.enum(SESSION_STATES);
export type SessionState = z.infer<typeof SessionState>;
export const FINAL_SESSION_STATES: readonly SessionState[] = ['closed', 'failed', 'cancelled'];

/** Session phases that can fail; `failed.phase` names one of them. */
export const SessionPhase = z.enum(['prewarm', 'connect', 'greet', 'active', 'close']);
export type SessionPhase = z.infer<typeof SessionPhase>;

export const WORKER_STATES = [
  'starting',
  'registering',
  'prewarming',
  'ready',
  'full',
  'draining',
  'stopped',
  'failed',
] as const;
export const WorkerState = z.enum(WORKER_STATES);
export type WorkerState = z.infer<typeof WorkerState>;

export const Outcome = z.enum(['success', 'failed', 'cancelled']);
export type Outcome = z.infer<typeof Outcome>;

/** Error codes that cross the wire. A code is stable; the message is for people. */
export const ERROR_CODES = [
  'invalid_message',
  'version_incompatible',
  'unknown_agent',
  'no_agents',
  'no_explicit_agent',
  'no_capacity',
  'draining',
  'unknown_session',
  'unknown_worker',
  'duplicate_session',
  'prewarm_failed',
  'agent_import_failed',
  'connect_failed',
  'connect_timeout',
  'prewarm_timeout',
  'greet_failed',
  'greet_timeout',
  'close_timeout',
  'session_error',
  'worker_lost',
  'supervisor_unavailable',
  /** Nobody subscribes to the subject a request went to. */
  'no_responders',
  /** This process's own NATS connection is down: the request was not sent. */
  'nats_unavailable',
  'timeout',
  'internal',
  /** A per-agent or per-tenant cap on concurrent sessions is reached: refused, never queued. */
  'over_limit',
  /** The agent's circuit breaker is open (too many recent failures): refused at once. */
  'agent_unhealthy',
  /** A command from a supervisor whose leadership term is older than one the worker has seen. */
  'stale_term',
  /** A rollout's new generation failed to start (import, prewarm, or in time); the old one serves on. */
  'rollout_failed',
  /** A rollout was asked for while another is under way. */
  'rollout_in_progress',
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** JSON scalar, for small free-form detail maps. */
export const Scalar = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);
export type Scalar = z.infer<typeof Scalar>;
export const Detail = z.record(z.string().max(64), Scalar);
export type Detail = z.infer<typeof Detail>;

/** Errors cross process boundaries as this data, never as Error objects. */
export const ErrorData = z.object({
  code: ErrorCode,
  message: z.string().max(4096),
  details: Detail.optional(),
});
export type ErrorData = z.infer<typeof ErrorData>;

export const VersionRangeSchema = z
  .object({ min: z.number().int().positive(), max: z.number().int().positive() })
  .refine((r) => r.min <= r.max, { message: 'min must be <= max', path: ['min'] });
