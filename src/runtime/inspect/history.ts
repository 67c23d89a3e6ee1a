import type { Scalar } from '../../protocol/index.ts';
import { type InspectEvent, isFinalSessionState } from './events.ts';

/** One recorded transition of a session. */
export interface HistoryEntry {
  from: string | null;
  to: string;
  event: string;
  seq: number;
  ts: number;
  host: string;
  pid: number;
  summary: Record<string, Scalar>;
}

/** What the supervisor remembers of one session. */
export interface SessionHistory {
  session: string;
  /** The worker that hosted it. */
  worker: string | null;
  ended: boolean;
  /** Transitions dropped from the front because the session outgrew the per-session limit. */
  dropped: number;
  transitions: HistoryEntry[];
}

export interface HistoryLimits {
  /** Transitions kept per session (the last ones). Default 200. */
  perSession?: number;
  /** Ended sessions kept (the most recent). Default 1000. */
  endedSessions?: number;
  /** Running sessions tracked; past it the least recently updated is forgotten. Default 10000. */
  liveSessions?: number;
}

export const DEFAULT_HISTORY_LIMITS: Required<HistoryLimits> = {
  perSession: 200,
  endedSessions: 1000,
  liveSessions: 10_000,
};

/**
 * A bounded memory of session transitions, fed by inspection events, so a call that ended a while
 * ago can still be explained. Events may arrive twice or out of order (a worker and the
 * supervisor both speak for a session): they are kept once, in seq order.
 */
export class InspectHistory {
  readonly limits: Required<HistoryLimits>;
  /** Running sessions, least recently updated first (Map keeps insertion order; we re-insert). */
  private readonly live = new Map<string, SessionHistory>();
  /** Ended sessions, oldest end first. */
  private readonly ended = new Map<string, SessionHistory>();

  constructor(limits: HistoryLimits = {}) {
    this.limits = { ...DEFAULT_HISTORY_LIMITS, ...limits };
  }

  /** Records a session transition; other actors' events are ignored. */
  record(e: InspectEvent): void {
    if (e.actor.kind !== 'session') return;
    const id = e.actor.id;
    let h = this.ended.get(id) ?? this.live.get(id);
    if (!h) {
      h = { session: id, worker: e.actor.parent ?? null, ended: false, dropped: 0, transitions: [] };
    }
    if (!insert(h, e, this.limits.perSession)) return;
    if (e.actor.parent) h.worker = e.actor.parent;
    if (h.ended) return;
    this.live.delete(id);
    if (isFinalSessionState(e.to)) {
      h.ended = true;
      this.ended.set(id, h);
      trim(this.ended, this.limits.endedSessions);
    } else {
      this.live.set(id, h);
      trim(this.live, this.limits.liveSessions);
    }
  }

  /** The session's history, or undefined when it was never seen or has been forgotten. */
  get(session: string): SessionHistory | undefined {
    const h = this.live.get(session) ?? this.ended.get(session);
    return h && { ...h, transitions: h.transitions.map((t) => ({ ...t, summary: { ...t.summary } })) };
  }

  get size(): { live: number; ended: number } {
    return { live: this.live.size, ended: this.ended.size };
  }
}

/** Inserts in seq order; false when this seq is already there. */
function insert(h: SessionHistory, e: InspectEvent, limit: number): boolean {
  const list = h.transitions;
  let i = list.length;
  while (i > 0 && (list[i - 1]?.seq ?? 0) > e.seq) i--;
  if (list[i - 1]?.seq === e.seq) return false;
  // A verdict of the supervisor (worker lost) does not know the state it ends: the last one does.
  const from = e.from ?? list[i - 1]?.to ?? null;
  list.splice(i, 0, {
    from,
    to: e.to,
    event: e.event,
    seq: e.seq,
    ts: e.ts,
    host: e.host,
    pid: e.pid,
    summary: e.summary,
  });
  if (list.length > limit) {
    const cut = list.length - limit;
    list.splice(0, cut);
    h.dropped += cut;
  }
  return true;
}

function trim(map: Map<string, SessionHistory>, limit: number): void {
  for (const key of map.keys()) {
    if (map.size <= limit) return;
    map.delete(key);
  }
}

/** Time spent in each state of a history: until the next transition, or until `now` for the last. */
export function withDurations(
  h: SessionHistory,
  now: number,
): Array<HistoryEntry & { durationMs: number | null }> {
  return h.transitions.map((t, i) => {
    const next = h.transitions[i + 1];
    const durationMs = next ? next.ts - t.ts : h.ended ? null : now - t.ts;
    return { ...t, durationMs };
  });
}
