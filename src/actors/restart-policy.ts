import { type BackoffOptions, exponentialBackoff } from './backoff.ts';

/**
 * How the supervisor restarts a worker process: the vocabulary of an OTP supervisor, on one page.
 *
 * restart type   which exits lead to a restart.
 *   permanent    always restarted, whatever the exit (the default: a pool wants its workers).
 *   transient    restarted only after an abnormal exit: a non-zero code, a signal, or a loss
 *                detected by missed heartbeats. A clean exit (code 0) means "done on purpose".
 *   temporary    never restarted.
 * intensity      at most `maxRestarts` restarts within any `periodMs` window. One more restart
 *                than that and the worker is given up: the supervisor stops restarting it, reports
 *                the pool `degraded`, and keeps serving with the workers it has. Restarts older
 *                than the window are forgotten, so a worker that crashes now and then is never
 *                given up.
 * backoff        the first restart inside the window is immediate: a worker that died once (an
 *                OOM kill, a bug one session hit) is most likely fine, and the pool should not
 *                wait to be whole again. From the second on, the delay grows exponentially with
 *                jitter from `initialMs`. The attempt number is the count of restarts inside the
 *                current window, so a worker stable for a period is restarted at once again.
 * (Strategy is always one_for_one: workers share nothing, so one worker's crash never restarts
 * another.)
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

export interface RestartPolicy {
  restart: RestartType;
  intensity: { maxRestarts: number; periodMs: number };
  backoff: BackoffOptions;
}

/** How a worker ended: its exit code or signal, or why the supervisor declared it lost. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  reason: 'exit' | 'heartbeat' | 'hello_timeout';
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  restart: 'permanent',
  intensity: { maxRestarts: 5, periodMs: 60_000 },
  backoff: { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 },
};

/** A full policy from a partial one: every missing field takes its default. */
export function resolveRestartPolicy(
  partial: {
    restart?: RestartType;
    intensity?: Partial<RestartPolicy['intensity']>;
    backoff?: Partial<BackoffOptions>;
  } = {},
): RestartPolicy {
  return {
    restart: partial.restart ?? DEFAULT_RESTART_POLICY.restart,
    intensity: { ...DEFAULT_RESTART_POLICY.intensity, ...partial.intensity },
    backoff: { ...DEFAULT_RESTART_POLICY.backoff, ...partial.backoff },
  };
}

/** True when an exit is "normal": code 0, no signal, and not a loss the supervisor detected. */
export function isNormalExit(exit: WorkerExit): boolean {
  return exit.reason === 'exit' && exit.code === 0 && exit.signal === null;
}

/** Whether a worker of this restart type is restarted after this exit (intensity aside). */
export function shouldRestart(restart: RestartType, exit: WorkerExit): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'transient') return !isNormalExit(exit);
  return false;
}

/**
 * Records a restart at `now` if the intensity allows it. `history` holds the times of earlier
 * restarts; the returned history keeps only those inside the window (plus `now` when allowed).
 */
export function recordRestart(
  history: readonly number[],
  now: number,
  policy: RestartPolicy,
): { allowed: boolean; history: number[] } {
  const since = now - policy.intensity.periodMs;
  const recent = history.filter((t) => t > since);
  if (recent.length >= policy.intensity.maxRestarts) return { allowed: false, history: recent };
  return { allowed: true, history: [...recent, now] };
}

/**
 * Delay before restart number `attempt` (1-based, inside the window) given a random number in
 * [0, 1): 0 for the first, then `initialMs`, doubling (by `factor`) up to `maxMs`, with jitter.
 */
export function backoffDelay(attempt: number, policy: RestartPolicy, random: number): number {
  return attempt <= 1 ? 0 : exponentialBackoff(attempt - 1, policy.backoff, random);
}
