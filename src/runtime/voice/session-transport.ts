import type { JobContext, voice } from '@livekit/agents';
import type { AgentInstance } from '../agents/instantiate.ts';
import type { Logger } from '../logger.ts';
import type { SessionVad } from './session-vad.ts';

/** What the session driver (VoiceSession) lends the transport it owns. */
export interface TransportHost {
  readonly id: string;
  readonly log: Logger | undefined;
  /** True once the session began to close: a transport reports nothing more, and starts nothing. */
  readonly closing: boolean;
  /** This session's view of the VAD, once prewarmed; undefined when the agent runs without one. */
  readonly vad: SessionVad | undefined;
  /** The transport ended by itself: the input finished, the caller left, the room or the job ended. */
  ended(reason: string): void;
}

/** How the AgentSession's close went, for what the transport runs after it (LiveKit: agents-js's job end). */
export interface SessionEnd {
  /** The AgentSession closed without failing: the agent's onSessionEnd may run. */
  sessionClosed: boolean;
  /** The agent definition's `onSessionEnd(ctx)` (LiveKit sessions only: it needs the JobContext). */
  onSessionEnd?: ((ctx: JobContext) => unknown) | undefined;
}

/**
 * Where one session's audio comes from and goes to: the strategy of the one session driver,
 * VoiceSession, which owns the agent, the AgentSession and the phases. `local` plays a WAV file
 * or silence and writes a WAV or nothing; `livekit` joins the job's room under its JobContext.
 * The driver calls each step in its phase and turns a failure into the phase's error code.
 */
export interface SessionTransport {
  readonly kind: 'local' | 'livekit';
  /** Called once, by the VoiceSession that owns this transport. */
  bind(host: TransportHost): void;
  /**
   * The agent and its providers are built at connect, after `open()` (LiveKit: after the room join,
   * where agents-js's entry builds them after `ctx.connect()`, so `ctx.room` is joined); otherwise
   * at prewarm.
   */
  readonly buildsAfterOpen?: boolean;
  /** Prewarm, before the agent is built: what user code must see then (LiveKit: the JobContext). Idempotent. */
  prepare(): Promise<void>;
  /** Runs user code (agent factories, the session's start, the greeting) in the transport's context. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Connect, first step: open the input and output, or join the room. Retried on the next attempt. */
  open(): Promise<void>;
  /** Connect, second step: starts the AgentSession on this transport's audio. */
  start(session: voice.AgentSession, instance: AgentInstance): Promise<void>;
  /** Connected: feeds the input and watches for the transport's own end; returns what stops watching. */
  watch(): () => void;
  /** The VAD has run on more of the input (the local transport paces its end on it). */
  vadProgress?(): void;
  /** After the AgentSession closed: frees what the transport opened, also after a failed phase; rejects with the first failure. */
  close(end?: SessionEnd): Promise<void>;
}
