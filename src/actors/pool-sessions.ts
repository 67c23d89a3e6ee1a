import type {
  EndedSession,
  ErrorData,
  JobDescriptor,
  Outcome,
  SessionState,
  SessionSummary,
  Transport,
} from '../protocol/index.ts';
import { placeSession } from './placement.ts';
import {
  advance,
  closeOut,
  type Draft,
  emit,
  endSession,
  FINAL_STATES,
  liveSessionsOn,
  patchSession,
  reject,
  writable,
} from './pool.ts';
import { placeable, servingGeneration } from './pool-generations.ts';
import { admissionRefusal, admitted, tenantOf } from './pool-limits.ts';
import { endedSession, findSession, sessionOfJob } from './pool-views.ts';
import { routeJob } from './routing.ts';
import type { SessionView, SupervisorEvent } from './supervisor.types.ts';

type EventOf<T extends SupervisorEvent['type']> = Extract<SupervisorEvent, { type: T }>;

const OUTCOME_STATE: Record<Outcome, SessionState> = {
  success: 'closed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/**
 * Routes, places and records a dispatch. The answer is always emitted as `dispatch.result`;
 * a new session also emits `session.place`. A job id seen before returns its session (existing).
 */
export function onDispatch(d: Draft, e: EventOf<'DISPATCH'>): void {
  advance(d, e.now);
  const fail = (error: ErrorData) =>
    emit(d, { type: 'dispatch.result', requestId: e.requestId, ok: false, error });
  const jobId = e.job?.id ?? e.requestId;
  const existing = sessionOfJob(d.ctx, jobId);
  if (existing) {
    emit(d, {
      type: 'dispatch.result',
      requestId: e.requestId,
      ok: true,
      session: existing.session,
      worker: existing.worker,
      agent: existing.agent,
      jobId,
      existing: true,
    });
    return;
  }
  if (d.mode !== 'running') {
    fail({ code: 'draining', message: `pool ${d.ctx.pool} is draining and takes no new sessions` });
    return;
  }
  if (findSession(d.ctx, e.sessionId)) {
    fail({ code: 'duplicate_session', message: `session id ${e.sessionId} is already in use` });
    return;
  }
  const route = routeJob(d.ctx.registry, {
    agent: e.agent ?? null,
    job: e.job ?? null,
    explicitOnly: e.explicitOnly ?? false,
  });
  if (!route.ok) {
    fail(route.error);
    return;
  }
  const tenant = tenantOf(e.job?.metadata, d.ctx.limits.tenantKey);
  const refused = admissionRefusal(d, route.agent.name, tenant);
  if (refused) {
    fail(refused);
    return;
  }
  const placed = placeSession(placementCandidates(d));
  if (!placed.ok) {
    fail(placed.error);
    return;
  }

  const agent = route.agent.name;
  const room = e.job?.room ?? `${agent}-${e.sessionId}`;
  const { metadata, roomMetadata } = e.job ?? {};
  const job: JobDescriptor = {
    id: jobId,
    room,
    ...(metadata !== undefined ? { metadata } : {}),
    ...(roomMetadata !== undefined ? { roomMetadata } : {}),
  };
  const transport: Transport = e.transport ?? {
    kind: 'local',
    input: e.audio ?? { kind: 'silence', durationMs: 1000 },
    output: { kind: 'discard' },
  };
  writable(d, 'sessions')[e.sessionId] = {
    session: e.sessionId,
    agent,
    worker: placed.worker,
    jobId,
    room,
    state: 'prewarming',
    seq: 0,
    createdAt: d.ctx.now,
    since: d.ctx.now,
    confirmed: false,
    reported: false,
    speech: { start: 0, end: 0 },
    start: { job, transport },
    ...(tenant !== undefined ? { tenant } : {}),
  };
  writable(d, 'jobs')[jobId] = e.sessionId;
  admitted(d, agent, e.sessionId);
  emit(d, {
    type: 'dispatch.result',
    requestId: e.requestId,
    ok: true,
    session: e.sessionId,
    worker: placed.worker,
    agent,
    jobId,
    existing: false,
  });
  emit(d, {
    type: 'session.place',
    requestId: e.requestId,
    sessionId: e.sessionId,
    worker: placed.worker,
    agent,
    job,
    transport,
  });
}

/**
 * Every worker as placement sees it: only a live incarnation that is up can take a session, and
 * only in the generation that serves (the newest with a ready worker: pool-generations.ts).
 */
function placementCandidates(d: Draft) {
  const serving = servingGeneration(d.ctx);
  return Object.values(d.ctx.workers).map((w) => ({
    id: w.id,
    state: w.state,
    // A spare takes no sessions until it is promoted; a pending or retiring worker, none at all.
    available: placeable(w) && (serving === null || w.generation === serving),
    capacity: w.capacity,
    active: w.active,
  }));
}

/**
 * Moves a session its worker never started (never reported) to another worker, when that worker
 * is certainly gone: nothing can run twice. Returns false when no other worker has a free slot.
 */
export function replaceUnstarted(d: Draft, sessionId: string): boolean {
  const s = d.ctx.sessions[sessionId];
  if (!s?.start || s.confirmed || s.reported) return false;
  const placed = placeSession(placementCandidates(d));
  if (!placed.ok) return false;
  patchSession(d, sessionId, { worker: placed.worker, since: d.ctx.now, createdAt: d.ctx.now });
  // It keeps the job and transport it was dispatched with.
  emit(d, {
    type: 'session.place',
    requestId: `replace:${sessionId}`,
    sessionId,
    worker: placed.worker,
    agent: s.agent,
    job: s.start.job,
    transport: s.start.transport,
    moved: true,
  });
  return true;
}

/** The runtime could not start a placed session on its worker. */
export function onPlaceFailed(d: Draft, e: EventOf<'PLACE_FAILED'>): void {
  advance(d, e.now);
  const s = d.ctx.sessions[e.sessionId];
  if (!s || s.reported) {
    reject(d, 'unknown_session');
    return;
  }
  // It moved to another worker meanwhile (its first worker died): that placement is the live one.
  if (e.worker !== undefined && s.worker !== e.worker) return;
  // No responder on a worker process we started: its NATS link is gone, almost always because the
  // process is dying. Its exit will move the session (it never started); if the process lives
  // on, its next heartbeats fail the session after placementGraceMs. Failing it here would race
  // the exit event and lose a session that could still run.
  if (e.error.code === 'no_responders' && d.ctx.workers[s.worker]?.local && !s.confirmed) return;
  endSession(d, e.sessionId, 'failed', e.error, 'ended');
}

/** A user speech start or end on a session; counted on the session, from its own worker only. */
export function onSessionSpeech(d: Draft, e: EventOf<'SESSION_SPEECH'>): void {
  advance(d, e.now);
  const s = d.ctx.sessions[e.session];
  if (!s || s.worker !== e.worker) return;
  patchSession(d, e.session, { speech: { ...s.speech, [e.kind]: s.speech[e.kind] + 1 } });
}

/** The session a worker reports on, if it is known and placed on that worker; otherwise counted and dropped. */
function reportedSession(d: Draft, session: string, worker: string) {
  const s = findSession(d.ctx, session);
  if (!s) reject(d, 'unknown_session');
  else if (s.worker !== worker) reject(d, 'wrong_worker');
  else return s;
  return undefined;
}

/** A session transition from its worker (already fenced by epoch): newer seq wins. */
export function onSessionState(d: Draft, e: EventOf<'SESSION_STATE'>): void {
  const s = reportedSession(d, e.session, e.worker);
  if (!s) return;
  if (s.reported) {
    cancelIfRunning(d, s, e.worker, e.state);
    return;
  }
  if (e.seq <= s.seq) {
    reject(d, 'stale_seq');
    return;
  }
  patchSession(d, e.session, { state: e.state, seq: e.seq, since: d.ctx.now, confirmed: true });
}

/** The end of a session, with its outcome and error (already fenced by epoch). */
export function onSessionEnded(d: Draft, e: EventOf<'SESSION_ENDED'>): void {
  const s = reportedSession(d, e.session, e.worker);
  if (!s) return;
  if (s.reported) {
    reject(d, 'duplicate');
    return;
  }
  if (e.seq < s.seq) {
    reject(d, 'stale_seq');
    return;
  }
  patchSession(d, e.session, { seq: e.seq, confirmed: true });
  endSession(d, e.session, OUTCOME_STATE[e.outcome], e.error, 'ended');
}

/**
 * Reconciles the sessions a worker reports (hello or heartbeat) with the pool's view.
 * - a reported session that is newer (seq) updates the view; an unknown one is adopted;
 * - a session already reported ended but still running there gets a `session.cancel`;
 * - with `absentEnds` (heartbeats), a live session the worker no longer lists has ended: if the
 *   worker had confirmed it, its end event was lost; if it never did, it gets until
 *   placementGraceMs after placement (supervisor clock) to show up, so a just-placed session is
 *   never mistaken for a lost one.
 */
export function reconcileSessions(
  d: Draft,
  worker: string,
  reported: readonly SessionSummary[],
  absentEnds: boolean,
): void {
  const listed = new Set<string>();
  for (const r of reported) {
    listed.add(r.session);
    const s = findSession(d.ctx, r.session);
    if (!s) {
      adopt(d, worker, r);
      continue;
    }
    if (s.worker !== worker) {
      reject(d, 'wrong_worker');
      continue;
    }
    if (s.reported) {
      cancelIfRunning(d, s, worker, r.state);
      continue;
    }
    if (r.seq > s.seq)
      patchSession(d, r.session, { state: r.state, seq: r.seq, since: d.ctx.now, confirmed: true });
    else if (!s.confirmed) patchSession(d, r.session, { confirmed: true });
  }
  if (!absentEnds) return;
  for (const id of liveSessionsOn(d, worker)) {
    if (listed.has(id)) continue;
    const s = d.ctx.sessions[id];
    if (!s) continue;
    if (s.confirmed) {
      endSession(
        d,
        id,
        'failed',
        {
          code: 'unknown_session',
          message: `worker ${worker} stopped reporting session ${id} before its end arrived; the outcome is unknown`,
        },
        'ended',
      );
    } else if (d.ctx.now - s.createdAt > d.ctx.placementGraceMs) {
      endSession(
        d,
        id,
        'failed',
        {
          code: 'unknown_session',
          message: `worker ${worker} never reported session ${id} within ${d.ctx.placementGraceMs} ms of placement`,
        },
        'ended',
      );
    }
  }
}

/** A session the pool did not know (the supervisor restarted): take it into the pool state. */
function adopt(d: Draft, worker: string, r: SessionSummary): void {
  writable(d, 'sessions')[r.session] = {
    session: r.session,
    agent: r.agent,
    worker,
    jobId: r.jobId,
    room: '',
    state: r.state,
    seq: r.seq,
    createdAt: d.ctx.now,
    since: d.ctx.now,
    confirmed: true,
    reported: false,
    speech: { start: 0, end: 0 },
  };
  if (d.ctx.jobs[r.jobId] === undefined) writable(d, 'jobs')[r.jobId] = r.session;
  if (FINAL_STATES.has(r.state)) endSession(d, r.session, r.state, undefined, 'ended');
}

/**
 * Takes in a worker's record of ended sessions (hello: all it remembers; heartbeat: the last few
 * beats). A live session it lists ends with its recorded outcome (its `session.ended` was lost, or
 * published while no supervisor listened). A session this supervisor never knew (it started after
 * the session ended) is recorded with its outcome, unless it is older than everything the bounded
 * record keeps. Ends already known are ignored: heartbeats repeat them.
 */
export function recordEnded(d: Draft, worker: string, ended: readonly EndedSession[]): void {
  for (const x of ended) {
    const s = d.ctx.sessions[x.session];
    if (s) {
      if (s.worker !== worker) continue;
      patchSession(d, x.session, { seq: Math.max(s.seq, x.seq), confirmed: true });
      endSession(d, x.session, OUTCOME_STATE[x.outcome], x.error, 'ended', x.endedAt);
      continue;
    }
    if (endedSession(d.ctx, x.session)) continue;
    const oldest = d.ctx.ended[0];
    if (d.ctx.ended.length >= d.ctx.endedLimit && oldest && x.endedAt <= oldest.since) continue;
    const at = Math.min(x.endedAt, d.ctx.now);
    closeOut(d, {
      session: x.session,
      agent: x.agent,
      worker,
      jobId: x.jobId,
      room: '',
      state: OUTCOME_STATE[x.outcome],
      seq: x.seq,
      createdAt: at,
      since: at,
      confirmed: true,
      reported: true,
      speech: { start: 0, end: 0 },
      ...(x.error ? { error: x.error } : {}),
    });
  }
}

function cancelIfRunning(d: Draft, s: SessionView, worker: string, state: SessionState): void {
  if (!s.reported || FINAL_STATES.has(state)) return;
  emit(d, {
    type: 'session.cancel',
    sessionId: s.session,
    worker,
    reason: `session ${s.session} was already reported ${s.state}`,
  });
}
