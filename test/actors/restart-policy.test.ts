import { describe, expect, it } from 'vitest';
import { exponentialBackoff, nextRandom, seedFrom } from '../../src/actors/backoff.ts';
import {
  backoffDelay,
  DEFAULT_RESTART_POLICY,
  recordRestart,
  resolveRestartPolicy,
  shouldRestart,
  type WorkerExit,
} from '../../src/actors/restart-policy.ts';
import { connectBackoff } from '../../src/actors/session.limits.ts';

const exit = (
  code: number | null,
  signal: string | null = null,
  reason: WorkerExit['reason'] = 'exit',
): WorkerExit => ({
  code,
  signal,
  reason,
});

describe('restart types', () => {
  it('permanent restarts after any exit', () => {
    expect(shouldRestart('permanent', exit(0))).toBe(true);
    expect(shouldRestart('permanent', exit(1))).toBe(true);
  });

  it('transient restarts only after an abnormal exit', () => {
    expect(shouldRestart('transient', exit(0))).toBe(false);
    expect(shouldRestart('transient', exit(1))).toBe(true);
    expect(shouldRestart('transient', exit(null, 'SIGKILL'))).toBe(true);
    expect(shouldRestart('transient', exit(null, null, 'heartbeat'))).toBe(true);
  });

  it('temporary never restarts', () => {
    expect(shouldRestart('temporary', exit(1))).toBe(false);
  });
});

describe('restart intensity', () => {
  const policy = DEFAULT_RESTART_POLICY;

  it('allows maxRestarts within the period and refuses one more', () => {
    let history: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = recordRestart(history, i * 1000, policy);
      expect(r.allowed).toBe(true);
      history = r.history;
    }
    expect(recordRestart(history, 5000, policy).allowed).toBe(false);
  });

  it('forgets restarts older than the period', () => {
    const history = [0, 1000, 2000, 3000, 4000];
    const r = recordRestart(history, 61_500, policy);
    expect(r).toEqual({ allowed: true, history: [2000, 3000, 4000, 61_500] });
  });

  it('fills in a partial policy with defaults', () => {
    expect(resolveRestartPolicy({ intensity: { maxRestarts: 2 } })).toEqual({
      ...DEFAULT_RESTART_POLICY,
      intensity: { maxRestarts: 2, periodMs: 60_000 },
    });
  });
});

describe('backoff', () => {
  it('restarts at once the first time, then grows exponentially up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => backoffDelay(n, DEFAULT_RESTART_POLICY, 0));
    expect(delays).toEqual([0, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(backoffDelay(1, DEFAULT_RESTART_POLICY, 0.999)).toBe(0);
  });

  it('jitter takes at most its fraction off the delay', () => {
    expect(exponentialBackoff(3, { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.5 }, 0.999_999)).toBe(
      200,
    );
    expect(exponentialBackoff(3, { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.5 }, 0)).toBe(400);
  });

  it('connect backoff never shrinks from one attempt to the next, whatever the jitter', () => {
    let state = seedFrom('any session');
    let previous = 0;
    for (let attempt = 1; attempt <= 10; attempt++) {
      const r = nextRandom(state);
      state = r.state;
      const delay = connectBackoff(attempt, 250, r.value);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThanOrEqual(5000);
      previous = delay;
    }
  });

  it('the seeded generator is deterministic and stays in [0, 1)', () => {
    const a = nextRandom(42);
    expect(nextRandom(42)).toEqual(a);
    let s = 1;
    for (let i = 0; i < 1000; i++) {
      const r = nextRandom(s);
      expect(r.value).toBeGreaterThanOrEqual(0);
      expect(r.value).toBeLessThan(1);
      s = r.state;
    }
  });
});
