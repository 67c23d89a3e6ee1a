import type { ErrorData, SessionState } from '../protocol/index.ts';
import { breakerOnEnd } from './pool-limits.ts';
import type {
  SessionView,
  SupervisorContext,
  SupervisorEmitted,
  SupervisorState,
  WorkerView,
} from './supervisor.types.ts';

/**
 * The supervisor's pool state is changed only by the pure reducers in pool-*.ts. A reducer works
 * on a Draft: a copy of the context whose maps are copied once and whose entries are replaced,
 * never mutated, so earlier snapshots stay intact. What the machine must do besides assigning
 * the new context is listed in `effects`.
 */
export type Effect =
  | { kind: 'emit'; event: SupervisorEmitted }
  | { kind: 'respawn'; worker: string; delayMs: number; at: number }
  | { kind: 'cancelRespawn'; worker: string };

export interface Draft {
  ctx: SupervisorContext;
  /** The supervisor machine's state while this event applies (the reducers' only view of it). */
  mode: SupervisorState;
  effects: Effect[];
  /** The maps this change has copied so far: each is copied on its first write, not per event. */
  copied: Set<DraftMap>;
}

type DraftMap = 'workers' | 'sessions' | 'jobs' | 'rejected';

export const FINAL_STATES: ReadonlySet<SessionState> = new Set(['closed', 'failed', 'cancelled']);

/** Starts a change of `ctx`, applied while the machine is in state `mode`. */
export function draft(ctx: SupervisorContext, mode: SupervisorState = 'running'): Draft {
  return { ctx: { ...ctx }, mode, effects: [], copied: new Set() };
}

/**
 * The draft's own copy of one of the context's maps, to write to. Copying only the maps an event
 * changes keeps the cost of an event independent of how many sessions the pool remembers.
 */
export function writable<K extends DraftMap>(d: Draft, key: K): SupervisorContext[K] {
  if (!d.copied.has(key)) {
    d.ctx[key] = { ...d.ctx[key] };
    d.copied.add(key);
  }
  return d.ctx[key];
}

export function emit(d: Draft, event: SupervisorEmitted): void {
  d.effects.push({ kind: 'emit', event });
}

/** Moves the supervisor's notion of time forward (never back). */
export function advance(d: Draft, now: number): void {
  if (now > d.ctx.now) d.ctx.now = now;
}

export function patchWorker(d: Draft, id: string, patch: Partial<WorkerView>): WorkerView {
  const next = { ...(d.ctx.workers[id] as WorkerView), ...patch };
  writable(d, 'workers')[id] = next;
  return next;
}

export function patchSession(d: Draft, id: string, patch: Partial<SessionView>): SessionView {
  const next = { ...(d.ctx.sessions[id] as SessionView), ...patch };
  // Reported by its worker, or ended: it will never move, so how to start it is no longer needed.
  if (next.confirmed || next.reported) delete next.start;
  writable(d, 'sessions')[id] = next;
  return next;
}

/** Counts an ignored message under `reason`. */
export function reject(d: Draft, reason: string): void {
  const rejected = writable(d, 'rejected');
  rejected[reason] = (rejected[reason] ?? 0) + 1;
}

/** A session that still holds a slot on its worker (every live one, but an adopted one reported final). */
export function isLive(s: SessionView): boolean {
  return !s.reported && !FINAL_STATES.has(s.state);
}

/**
 * Records the end of a live session once: it leaves the live sessions (and its job id the live
 * jobs), `session.lost` (worker loss) or `session.ended` is emitted, and it joins the bounded
 * record of ended sessions. `at` is when it ended, when that was before now (a worker's record
 * of an end nobody heard).
 */
export function endSession(
  d: Draft,
  id: string,
  state: SessionState,
  error: ErrorData | undefined,
  how: 'ended' | 'lost',
  at: number = d.ctx.now,
): void {
  const s = d.ctx.sessions[id];
  if (!s || s.reported) return;
  const { start, ...rest } = s;
  delete writable(d, 'sessions')[id];
  if (d.ctx.jobs[s.jobId] === id) delete writable(d, 'jobs')[s.jobId];
  const endedAt = Math.min(at, d.ctx.now);
  breakerOnEnd(d, s.agent, id, state);
  closeOut(
    d,
    { ...rest, state, since: endedAt, reported: true, ...(error ? { error } : {}) },
    how === 'lost' ? error : undefined,
  );
}

/**
 * Reports an ended session (`session.lost` when `lost` is given, else `session.ended`), counts it
 * against the drain if the drain cut it short, and appends it to the record of ended sessions,
 * forgetting the oldest past endedLimit. Appending copies at most endedLimit references: the cost
 * of an end does not depend on how many sessions the pool has seen.
 */
export function closeOut(d: Draft, ended: SessionView, lost?: ErrorData): void {
  const { session: sessionId, worker, agent, jobId, state, seq, error, since } = ended;
  const base = { sessionId, worker, agent, jobId };
  if (lost) emit(d, { type: 'session.lost', ...base, seq: seq + 1, error: lost });
  else emit(d, { type: 'session.ended', ...base, state, seq, ...(error ? { error } : {}) });
  const { drain } = d.ctx;
  if (drain.since !== null && since >= drain.since && state !== 'closed') {
    d.ctx.drain = { ...drain, cut: drain.cut + 1 };
  }
  const { ended: record, endedLimit } = d.ctx;
  const kept = record.length >= endedLimit ? record.slice(record.length - endedLimit + 1) : record.slice();
  kept.push(ended);
  d.ctx.ended = kept;
}

/** Ids of the live sessions on a worker. */
export function liveSessionsOn(d: Draft, worker: string): string[] {
  return Object.values(d.ctx.sessions)
    .filter((s) => s.worker === worker && isLive(s))
    .map((s) => s.session);
}

/** Brings every worker's `active` count and the pool's health up to date. */
export function settle(d: Draft): void {
  // Active counts can only change when sessions or workers did.
  if (d.copied.has('sessions') || d.copied.has('workers')) {
    const counts = new Map<string, number>();
    for (const s of Object.values(d.ctx.sessions)) {
      if (isLive(s)) counts.set(s.worker, (counts.get(s.worker) ?? 0) + 1);
    }
    for (const w of Object.values(d.ctx.workers)) {
      const active = counts.get(w.id) ?? 0;
      if (w.active !== active) patchWorker(d, w.id, { active });
    }
  }
  const previous = d.ctx.health;
  const health =
    d.mode === 'draining' || d.mode === 'stopped'
      ? 'draining'
      : Object.values(d.ctx.workers).some((w) => w.supervision === 'given_up')
        ? 'degraded'
        : 'ok';
  if (health !== previous) {
    d.ctx.health = health;
    emit(d, { type: 'pool.health', health, previous });
  }
}
