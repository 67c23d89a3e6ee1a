import {
  type EndedSession,
  type MessageBody,
  type Outcome,
  type SessionState,
  type SessionSummary,
  SUPPORTED_VERSIONS,
} from '../protocol/index.ts';
import type { SessionContext } from './session.types.ts';
import { ENDED_IN_BEATS, endedSince } from './worker.ended.ts';
import type { HostedSession, WorkerContext } from './worker.types.ts';

/**
 * What the reports read of a worker: its snapshot's context and children (the session actors,
 * by session id). Pure projections: the same snapshot gives the same report.
 */
export interface WorkerSnapshotView {
  context: WorkerContext;
  children: Record<string, { getSnapshot(): unknown } | undefined>;
}

type Body<T extends 'hello' | 'heartbeat'> = Omit<MessageBody<T>, 'type'>;

const DEFAULT_HEARTBEAT_MS = 1000;

/** A hosted session's state and seq, as its own actor holds them. */
export function sessionProgress(
  view: WorkerSnapshotView,
  sessionId: string,
): { state: SessionState; seq: number } {
  const snapshot = view.children[sessionId]?.getSnapshot() as { context?: SessionContext } | undefined;
  return { state: snapshot?.context?.state ?? 'prewarming', seq: snapshot?.context?.seq ?? 0 };
}

/** Every hosted session, with the state and seq its actor holds; `since` is when it was admitted. */
export function sessionSummaries(view: WorkerSnapshotView): SessionSummary[] {
  return view.context.sessions.map((h: HostedSession) => {
    const { state, seq } = sessionProgress(view, h.session);
    return {
      session: h.session,
      agent: h.agent,
      state,
      seq: Math.max(seq, 1),
      since: h.admittedAt,
      jobId: h.jobId,
    };
  });
}

/** The hello this worker says: who it is, what it hosts, and its whole record of ended sessions. */
export function helloBody(
  view: WorkerSnapshotView,
  proc: { pid: number; host: string; now: number },
): Body<'hello'> {
  const { context } = view;
  return {
    worker: context.workerId,
    epoch: context.epoch,
    pid: proc.pid,
    host: proc.host,
    capacity: context.capacity,
    versions: { ...SUPPORTED_VERSIONS },
    sessions: sessionSummaries(view),
    ended: endedSince(context.ended, 0, proc.now),
    ...(context.code ? { code: context.code } : {}),
  };
}

/** What the runtime measures for a heartbeat. */
export interface BeatMeasures {
  now: number;
  rssBytes: number;
  /** How many times this process loaded the VAD model. */
  vadLoads?: number;
  /** Messages the process rejected, by reason. */
  rejected?: Record<string, number>;
  /** When the NATS link went down, if this beat follows an outage (see HeartbeatDue). */
  endsSince?: number | null;
}

/**
 * The heartbeat: the worker's full state (every session with state and seq), so a lost event heals
 * at the next beat, and the ends of the last few beats (or since the link went down).
 */
export function heartbeatBody(view: WorkerSnapshotView, m: BeatMeasures): Body<'heartbeat'> {
  const { context } = view;
  const beatMs = context.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const recent = endedSince(
    context.ended,
    Math.min(m.now - ENDED_IN_BEATS * beatMs, m.endsSince ?? Number.POSITIVE_INFINITY),
    m.now,
  );
  return {
    worker: context.workerId,
    epoch: context.epoch,
    state: context.state ?? 'starting',
    active: context.sessions.length,
    capacity: context.capacity,
    rssBytes: m.rssBytes,
    prewarm: { ...prewarmStatus(context), ...(m.vadLoads !== undefined ? { vadLoads: m.vadLoads } : {}) },
    sessions: sessionSummaries(view),
    ...(m.rejected ? { rejected: m.rejected } : {}),
    ...(recent.length > 0 ? { ended: recent } : {}),
    ...(context.code ? { code: context.code } : {}),
  };
}

function prewarmStatus(context: WorkerContext): Body<'heartbeat'>['prewarm'] {
  if (context.prewarmMs !== null) return { status: 'ok', ms: context.prewarmMs };
  const { failure } = context;
  if (failure?.phase === 'prewarm')
    return { status: 'failed', error: { code: failure.code, message: failure.message } };
  return { status: 'pending' };
}

/**
 * The answer to a repeated `session.start` (idempotent by session id): the live session's state, or
 * the outcome of a recently ended one; null when the worker knows nothing of it.
 */
export function existingSession(
  view: WorkerSnapshotView,
  sessionId: string,
): { state: SessionState } | { outcome: Outcome } | null {
  if (view.context.sessions.some((s) => s.session === sessionId)) {
    return { state: sessionProgress(view, sessionId).state };
  }
  const ended: EndedSession | undefined = view.context.ended.find((e) => e.session === sessionId);
  return ended ? { outcome: ended.outcome } : null;
}
