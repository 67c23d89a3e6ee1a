import { type ErrorData, type SessionPhase, type SessionState, toErrorData } from '../protocol/index.ts';
import type { SessionContext, SessionFailure } from './session.types.ts';

/** What went wrong in which phase: a failure or a warning, depending on the machine's rules. */
export type Problem = { phase: SessionPhase; error: ErrorData };
/** The failure record kept in the context and sent with `session.transition`. */
export const asFailure = ({ phase, error }: Problem): SessionFailure => ({
  phase,
  code: error.code,
  message: error.message,
});

/** The phase a runtime FAIL belongs to, by the state it arrives in. */
export const PHASE_OF: Partial<Record<SessionState, SessionPhase>> = {
  prewarming: 'prewarm',
  connecting: 'connect',
  greeting: 'greet',
  active: 'active',
};

/** The error of a connect attempt that outlived connectMs. */
export function connectTimedOut(context: SessionContext): ErrorData {
  const { attempt, limits } = context;
  return {
    code: 'connect_timeout',
    message: `connect attempt ${attempt} of ${limits.connectAttempts} timed out after ${limits.connectMs} ms`,
  };
}

/** A greeting that failed, as a greet-phase problem. */
export function greetFailed({ event }: { event: { error: unknown } }): Problem {
  return {
    phase: 'greet',
    error: { code: 'greet_failed', message: toErrorData(event.error, 'greet_failed').message },
  };
}

/** A greeting that outlived greetMs. */
export function greetTimedOut({ context }: { context: SessionContext }): Problem {
  return {
    phase: 'greet',
    error: { code: 'greet_timeout', message: `greeting took longer than ${context.limits.greetMs} ms` },
  };
}

/** A close that failed; keeps the error's own code when it has one. */
export function closeFailed({ event }: { event: { error: unknown } }): Problem {
  return { phase: 'close', error: toErrorData(event.error, 'session_error') };
}

/** A close that outlived closeMs. */
export function closeTimedOut({ context }: { context: SessionContext }): Problem {
  return {
    phase: 'close',
    error: { code: 'close_timeout', message: `closing took longer than ${context.limits.closeMs} ms` },
  };
}
