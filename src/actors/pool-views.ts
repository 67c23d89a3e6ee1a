import type { ErrorData, SessionState } from '../protocol/index.ts';
import type { SessionView, SupervisorContext } from './supervisor.types.ts';

/**
 * Views of the supervisor's pool state for everyone outside the machine: the ledger of sessions
 * (what the reliability tests and metrics read) and the drain's verdict. Pure projections of a
 * snapshot's context; nothing here is kept anywhere else.
 */

export interface LedgerEntry {
  session: string;
  agent: string;
  worker: string;
  jobId: string;
  /** When it was placed (or moved), or adopted; for a session known only by its end, when it ended. */
  dispatchedAt: number;
  /** null while running. */
  end: { state: SessionState; at: number; error?: ErrorData } | null;
  speech: { start: number; end: number };
}

function entry(s: SessionView): LedgerEntry {
  return {
    session: s.session,
    agent: s.agent,
    worker: s.worker,
    jobId: s.jobId,
    dispatchedAt: s.createdAt,
    end: s.reported ? { state: s.state, at: s.since, ...(s.error ? { error: s.error } : {}) } : null,
    speech: s.speech,
  };
}

/** A session in the record of ended ones (newest first, so a repeated end finds the latest). */
export function endedSession(ctx: SupervisorContext, session: string): SessionView | undefined {
  for (let i = ctx.ended.length - 1; i >= 0; i--) {
    const s = ctx.ended[i];
    if (s?.session === session) return s;
  }
  return undefined;
}

/** A session the supervisor knows: live, or ended and still in the record. */
export function findSession(ctx: SupervisorContext, session: string): SessionView | undefined {
  return ctx.sessions[session] ?? endedSession(ctx, session);
}

/** The session a job id was dispatched as: live, or ended and still in the record. */
export function sessionOfJob(ctx: SupervisorContext, jobId: string): SessionView | undefined {
  const live = ctx.jobs[jobId];
  if (live !== undefined && ctx.sessions[live]) return ctx.sessions[live];
  for (let i = ctx.ended.length - 1; i >= 0; i--) {
    const s = ctx.ended[i];
    if (s?.jobId === jobId) return s;
  }
  return undefined;
}

/** Every session the supervisor knows, live and ended (the bounded record), oldest first. */
export function knownSessions(ctx: SupervisorContext): SessionView[] {
  return [...Object.values(ctx.sessions), ...ctx.ended].sort((a, b) => a.createdAt - b.createdAt);
}

/** One session as the ledger shows it: running, or ended with its outcome; undefined once forgotten. */
export function ledgerEntry(ctx: SupervisorContext, session: string): LedgerEntry | undefined {
  const s = findSession(ctx, session);
  return s ? entry(s) : undefined;
}

/**
 * Every session the supervisor knows: the live ones and the bounded record of ended ones
 * (endedLimit), dispatched here or adopted from the workers' hellos, oldest first.
 */
export function ledgerEntries(ctx: SupervisorContext): LedgerEntry[] {
  return knownSessions(ctx).map(entry);
}

/**
 * How the drain went: how many sessions it cut short (ended other than `closed` once it began,
 * adopted ones included), and the ids of those still in the record.
 */
export function drainReport(ctx: SupervisorContext): { cut: number; sessions: string[] } {
  const { since, cut } = ctx.drain;
  if (since === null) return { cut: 0, sessions: [] };
  const sessions = ctx.ended.filter((s) => s.since >= since && s.state !== 'closed').map((s) => s.session);
  return { cut, sessions };
}
