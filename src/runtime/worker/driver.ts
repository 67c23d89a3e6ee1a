import type { CloseReason } from '../../actors/session.types.ts';
import type { SessionRequest } from '../../actors/worker.types.ts';
import type { AgentSpec, ErrorData } from '../../protocol/index.ts';
import type { Logger } from '../logger.ts';

/** What a running session reports back while the machine drives it. */
export interface DriverEvents {
  /** The transport ended by itself: input finished, participant left, room gone. */
  transportEnded(reason?: string): void;
  /** The VAD heard the user start or stop speaking. */
  speech(e: { kind: 'start' | 'end'; atMs: number; speechCount: number }): void;
  /** The AgentSession failed after it started. */
  error(e: ErrorData): void;
}

/**
 * The IO of one session, in the phases the session machine invokes. Each phase rejects with
 * an ErrorData-like `{code, message}` or an Error; `close` is idempotent and always frees.
 */
export interface SessionDriver {
  prewarm(): Promise<void>;
  connect(attempt: number): Promise<void>;
  greet(): Promise<void>;
  close(reason: CloseReason): Promise<void>;
}

export interface DriverArgs {
  spec: AgentSpec;
  /** What `session.start` asked for: the job, the transport and the limits. */
  start: SessionRequest;
  events: DriverEvents;
  log: Logger;
}

export type DriverFactory = (args: DriverArgs) => SessionDriver;

/** What every session runner takes from the driver's arguments: log, pool defaults and event routing. */
export function runnerOptions({ spec, events, log }: DriverArgs) {
  return {
    log,
    defaults: {
      ...(spec.greeting ? { greeting: spec.greeting } : {}),
      ...(spec.providers ? { providers: spec.providers } : {}),
    },
    events: {
      transportEnded: (reason?: string) => events.transportEnded(reason),
      speech: (e: Parameters<DriverEvents['speech']>[0]) => events.speech(e),
      error: (e: ErrorData) => events.error(e),
      message: (m: { role: string; text: string; interrupted: boolean }) =>
        log.info({ role: m.role, interrupted: m.interrupted, text: m.text }, 'conversation message'),
    },
  };
}
