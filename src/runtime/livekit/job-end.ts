import { type JobContext, runWithJobContextAsync } from '@livekit/agents';
import { toErrorData } from '../../protocol/errors.ts';
import type { Logger } from '../logger.ts';

/**
 * agents-js's bounds on a job's end (agents/src/job_lifecycle.ts): `SESSION_CLOSE_TIMEOUT` for
 * `AgentSession.close()`, `DEFAULT_SESSION_END_TIMEOUT` for `onSessionEnd` (ServerOptions'
 * `sessionEndTimeout`), and `shutdownProcessTimeout`'s default, which in agents-js bounds the whole
 * job process's exit and here bounds the shutdown callbacks (a worker process outlives its jobs).
 * The session machine's close timeout bounds the whole close phase as well.
 */
export const JOB_END_TIMEOUTS = {
  sessionCloseMs: 60_000,
  sessionEndMs: 300_000,
  shutdownCallbacksMs: 60_000,
};

export interface JobEndSteps {
  ctx: JobContext;
  /** Whether the AgentSession closed (`closeAgentSession`): onSessionEnd runs only then. */
  sessionClosed: boolean;
  /** The agent's `onSessionEnd(ctx)`, if it has one. */
  onSessionEnd?: ((ctx: JobContext) => unknown) | undefined;
  /** Leaves the room. */
  disconnect: () => Promise<void>;
  log?: Logger | undefined;
  session: string;
}

/**
 * Step 1 of a job's end: closes the AgentSession (bounded as agents-js bounds it). Resolves when it
 * closed (or there was none); rejects with the failure or the timeout.
 */
export async function closeAgentSession(session: { close(): Promise<void> } | undefined): Promise<void> {
  if (session) await within(session.close(), JOB_END_TIMEOUTS.sessionCloseMs, 'AgentSession.close()');
}

/**
 * Ends one job, after its AgentSession closed (`closeAgentSession`), as agents-js's job runner
 * does (agents/src/ipc/job_proc_lazy_main.ts `startJob`, then job_lifecycle.ts `finalizeSession`
 * and `runShutdownCallbacks`); rejects with the room leave's failure, after every step ran:
 * 2. if it closed, `onSessionEnd(ctx)` runs (bounded), then `ctx._onSessionEnd()`, which makes the
 *    session report (`ctx.makeSessionReport()`), uploads it where agents-js would (LiveKit Cloud
 *    with recording on) and logs it: both in the job's context;
 * 3. the room is left;
 * 4. the shutdown callbacks run concurrently, each failure logged, bounded as a whole.
 */
export async function endJob(steps: JobEndSteps): Promise<void> {
  const { ctx, log, session } = steps;
  const warn = (err: unknown, msg: string) => log?.warn({ session, err: toErrorData(err) }, msg);
  let failure: unknown;
  await runWithJobContextAsync(ctx, async () => {
    if (steps.sessionClosed && steps.onSessionEnd) {
      const onSessionEnd = steps.onSessionEnd;
      try {
        await within(
          Promise.resolve().then(() => onSessionEnd(ctx)),
          JOB_END_TIMEOUTS.sessionEndMs,
          'onSessionEnd',
        );
      } catch (err) {
        warn(err, 'onSessionEnd failed');
      }
    }
    try {
      await ctx._onSessionEnd();
    } catch (err) {
      warn(err, 'session report failed');
    }
  });
  try {
    await steps.disconnect();
  } catch (err) {
    failure = err;
  }
  const callbacks = ctx.shutdownCallbacks.splice(0);
  const results = await within(
    runWithJobContextAsync(ctx, () =>
      Promise.allSettled(callbacks.map((callback) => Promise.resolve().then(callback))),
    ),
    JOB_END_TIMEOUTS.shutdownCallbacksMs,
    'the shutdown callbacks',
  ).catch((err: unknown) => {
    warn(err, 'job shutdown callbacks timed out');
    return [];
  });
  for (const r of results) if (r.status === 'rejected') warn(r.reason, 'job shutdown callback failed');
  if (failure) throw failure;
}

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
