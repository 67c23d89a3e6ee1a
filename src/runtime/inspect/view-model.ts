import type { ErrorData } from '../../protocol/index.ts';
import { type InspectEvent, isFinalSessionState } from './events.ts';
import type { StatusReply } from './source.ts';

export interface WorkerRow {
  worker: string;
  state: string;
  supervision: string;
  active: number;
  capacity: number;
  rssBytes: number;
  restarts: number;
  host: string | null;
  pid: number | null;
  seq: number;
  /** The actor this worker reports to: the supervisor that welcomed it (its events say so) or lists it. */
  parent: string | null;
}

export interface SessionRow {
  session: string;
  agent: string;
  worker: string;
  state: string;
  seq: number;
  createdAt: number;
  since: number;
  error?: string;
}

/** One actor of the tree supervisor → workers → sessions, as the actors report their parents. */
export interface ActorNode {
  id: string;
  kind: 'supervisor' | 'worker' | 'session';
  state: string;
  /** A few words: a worker's load, a session's agent. */
  note: string;
  children: ActorNode[];
}

export interface ViewFilter {
  agent?: string;
  worker?: string;
  /** Free text: matches a session, agent, worker or state that contains it. */
  text?: string;
}

export const SORT_KEYS = ['state', 'age', 'agent', 'worker', 'time'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/**
 * The pool as an inspector shows it: status replies give the whole picture every second, and
 * inspection events move it between replies. The higher seq wins, so a late reply never
 * rewinds a state an event already showed.
 */
export class PoolView {
  health = 'unknown';
  supervisorState = 'unknown';
  /** The supervisor actor's id: from its own events, or the sender of the status replies. */
  supervisor: string | null = null;
  rejected: Record<string, number> = {};
  /** Worker generations from the latest status (docs/operations.md), oldest first. */
  generations: NonNullable<StatusReply['generations']> = [];
  readonly workers = new Map<string, WorkerRow>();
  readonly sessions = new Map<string, SessionRow>();
  /** Latest transitions, newest last. */
  readonly recent: InspectEvent[] = [];

  constructor(
    readonly pool: string,
    private readonly recentLimit = 200,
  ) {}

  setStatus(s: StatusReply): void {
    this.health = s.health;
    this.rejected = s.rejected;
    this.generations = s.generations ?? [];
    this.supervisor = s.from;
    const workers = new Set<string>();
    for (const w of s.workers) {
      workers.add(w.worker);
      const prev = this.workers.get(w.worker);
      this.workers.set(w.worker, {
        worker: w.worker,
        // A hot spare is shown as one: it takes no sessions until it replaces a lost worker.
        state: w.spare ? `${w.state} (spare)` : w.state,
        supervision: w.supervision,
        active: w.active,
        capacity: w.capacity,
        rssBytes: w.rssBytes,
        restarts: w.restarts,
        host: w.host,
        pid: w.pid,
        seq: prev?.seq ?? 0,
        // The workers a supervisor lists are its children, unless a worker said otherwise.
        parent: prev?.parent ?? s.from,
      });
    }
    for (const id of this.workers.keys()) if (!workers.has(id)) this.workers.delete(id);
    const sessions = new Set<string>();
    for (const x of s.sessions) {
      sessions.add(x.session);
      const prev = this.sessions.get(x.session);
      if (prev && prev.seq > x.seq) continue;
      this.sessions.set(x.session, {
        session: x.session,
        agent: x.agent,
        worker: x.worker,
        state: x.state,
        seq: x.seq,
        createdAt: x.createdAt,
        since: prev && prev.state === x.state ? prev.since : x.since,
        ...(x.error ? { error: errorText(x.error) } : {}),
      });
    }
    // Sessions the supervisor forgot are dropped once ended; running ones it has not heard of stay.
    for (const [id, row] of this.sessions)
      if (!sessions.has(id) && isFinalSessionState(row.state)) this.sessions.delete(id);
  }

  apply(e: InspectEvent): void {
    const prev = e.actor.kind === 'session' ? this.sessions.get(e.actor.id) : undefined;
    // The same transition can arrive twice (a worker and the supervisor both report ends).
    if (prev && prev.seq >= e.seq) return;
    this.recent.push(e);
    if (this.recent.length > this.recentLimit) this.recent.splice(0, this.recent.length - this.recentLimit);
    if (e.actor.kind === 'supervisor') {
      this.supervisorState = e.to;
      this.supervisor = e.actor.id;
      return;
    }
    if (e.actor.kind === 'worker') {
      const w = this.workers.get(e.actor.id);
      if (w && e.seq >= w.seq)
        Object.assign(w, { state: e.to, seq: e.seq, parent: e.actor.parent ?? w.parent });
      return;
    }
    const error = typeof e.summary.error === 'string' ? e.summary.error : undefined;
    this.sessions.set(e.actor.id, {
      session: e.actor.id,
      agent: prev?.agent ?? String(e.summary.agent ?? '?'),
      worker: prev?.worker ?? e.actor.parent ?? String(e.summary.worker ?? '?'),
      state: e.to,
      seq: e.seq,
      createdAt: prev?.createdAt ?? e.ts,
      since: e.ts,
      ...(error ? { error } : prev?.error ? { error: prev.error } : {}),
    });
  }

  /** Sessions that pass the filter, sorted; running sessions before ended ones under `state`. */
  sessionRows(filter: ViewFilter = {}, sort: SortKey = 'state', now = Date.now()): SessionRow[] {
    const rows = [...this.sessions.values()].filter((r) => matches(r, filter));
    const rank = (r: SessionRow) => (isFinalSessionState(r.state) ? 1 : 0);
    const by: Record<SortKey, (a: SessionRow, b: SessionRow) => number> = {
      state: (a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt,
      age: (a, b) => b.createdAt - a.createdAt,
      agent: (a, b) => a.agent.localeCompare(b.agent) || b.createdAt - a.createdAt,
      worker: (a, b) => a.worker.localeCompare(b.worker) || b.createdAt - a.createdAt,
      time: (a, b) => now - b.since - (now - a.since),
    };
    return rows.sort(by[sort]);
  }

  workerRows(filter: ViewFilter = {}): WorkerRow[] {
    return [...this.workers.values()]
      .filter((w) => !filter.worker || w.worker === filter.worker)
      .sort((a, b) => a.worker.localeCompare(b.worker));
  }

  /**
   * The actor tree: the supervisor, the workers whose parent it is, and under each worker its
   * running sessions (a session's parent is the worker actor that spawned it). A worker or session
   * whose parent is not known here is a root of its own.
   */
  actorTree(filter: ViewFilter = {}): ActorNode[] {
    const running = this.sessionRows(filter).filter((r) => !isFinalSessionState(r.state));
    const sessionNode = (r: SessionRow): ActorNode => ({
      id: r.session,
      kind: 'session',
      state: r.state,
      note: r.agent,
      children: [],
    });
    const workers = this.workerRows(filter);
    const workerNode = (w: WorkerRow): ActorNode => ({
      id: w.worker,
      kind: 'worker',
      state: w.state,
      note: `${w.active}/${w.capacity}`,
      children: running.filter((r) => r.worker === w.worker).map(sessionNode),
    });
    const top = this.supervisor;
    const roots: ActorNode[] = [];
    if (top !== null) {
      roots.push({
        id: top,
        kind: 'supervisor',
        // Known from the supervisor's own transitions only (a status reply does not say it).
        state: this.supervisorState === 'unknown' ? '' : this.supervisorState,
        note: `health ${this.health}`,
        children: workers.filter((w) => w.parent === top).map(workerNode),
      });
    }
    roots.push(...workers.filter((w) => top === null || w.parent !== top).map(workerNode));
    roots.push(...running.filter((r) => !this.workers.has(r.worker)).map(sessionNode));
    return roots;
  }

  recentEvents(filter: ViewFilter = {}): InspectEvent[] {
    return this.recent.filter((e) => {
      if (e.actor.kind !== 'session') return !filter.agent && !filter.text;
      const row = this.sessions.get(e.actor.id);
      return row ? matches(row, filter) : true;
    });
  }
}

function matches(r: SessionRow, f: ViewFilter): boolean {
  if (f.agent && r.agent !== f.agent) return false;
  if (f.worker && r.worker !== f.worker) return false;
  if (f.text) {
    const t = f.text.toLowerCase();
    return [r.session, r.agent, r.worker, r.state].some((v) => v.toLowerCase().includes(t));
  }
  return true;
}

function errorText(e: ErrorData): string {
  return `${e.code}: ${e.message}`;
}
