/**
 * Exponential backoff with jitter, and the seeded random numbers that make it replayable.
 * Machines keep the generator's state (one uint32) in their context, so a snapshot says exactly
 * which delay comes next and a test with the same seed sees the same delays.
 */

export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Growth per attempt (2 doubles). */
  factor: number;
  /** Fraction of the delay that is random, 0..1: before the cap the delay lies in [d·(1−jitter), d]. */
  jitter: number;
}

/**
 * Delay before retry number `attempt` (1-based), given a random number in [0, 1): the
 * exponential delay minus up to `jitter` of it, then capped at maxMs. Capping last keeps the
 * promise that, with factor·(1−jitter) ≥ 1, no delay is shorter than the one before.
 */
export function exponentialBackoff(attempt: number, opts: BackoffOptions, random: number): number {
  const n = Math.max(1, Math.floor(attempt));
  const jitter = Math.min(1, Math.max(0, opts.jitter));
  const r = Math.min(1, Math.max(0, random));
  const jittered = opts.initialMs * opts.factor ** (n - 1) * (1 - jitter * r);
  return Math.round(Math.min(opts.maxMs, jittered));
}

/** One step of mulberry32: a random number in [0, 1) and the generator's next state. */
export function nextRandom(state: number): { value: number; state: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: next };
}

/** A generator state derived from a string (FNV-1a), so a session id gives a stable seed. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
