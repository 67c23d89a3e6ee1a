import type { SessionLimits } from '../protocol/index.ts';
import { exponentialBackoff } from './backoff.ts';

/** Session limits with every field filled in. */
export interface ResolvedLimits {
  prewarmMs: number;
  connectMs: number;
  connectAttempts: number;
  connectBackoffMs: number;
  greetMs: number;
  closeMs: number;
  greetingRequired: boolean;
}

export const DEFAULT_SESSION_LIMITS: ResolvedLimits = {
  prewarmMs: 10_000,
  connectMs: 10_000,
  connectAttempts: 3,
  connectBackoffMs: 250,
  greetMs: 15_000,
  closeMs: 5_000,
  greetingRequired: false,
};

/** No connect retry waits longer than this, however many attempts are allowed. */
export const CONNECT_BACKOFF_MAX_MS = 5_000;

/** Fills every missing limit with its default. */
export function resolveLimits(partial: SessionLimits = {}): ResolvedLimits {
  const out: ResolvedLimits = { ...DEFAULT_SESSION_LIMITS };
  for (const key of Object.keys(out) as (keyof ResolvedLimits)[]) {
    const value = partial[key];
    if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

/**
 * Delay after failed connect attempt `attempt` (1-based): the base doubles per attempt up to
 * CONNECT_BACKOFF_MAX_MS, and up to half of it is random, so delays never shrink.
 */
export function connectBackoff(attempt: number, baseMs: number, random: number): number {
  return exponentialBackoff(
    attempt,
    { initialMs: baseMs, maxMs: CONNECT_BACKOFF_MAX_MS, factor: 2, jitter: 0.5 },
    random,
  );
}
