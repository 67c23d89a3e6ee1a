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

/** One session as the ledger shows it: running, or ended with its outcome; undefined once forgotten. */
export function ledgerEntry(ctx: SupervisorContext, session: string): LedgerEntry | undefined {
  const s = ctx.sessions[session];
  return s ? entry(s) : undefined;
}

/**
 * Every session the supervisor knows: the live ones and the bounded record of ended ones
 * (endedLimit), dispatched here or adopted from the workers' hellos, oldest first.
 */
export function ledgerEntries(ctx: SupervisorContext): LedgerEntry[] {
  return Object.values(ctx.sessions)
    .sort((a, b) => a.createdAt - b.createdAt)
    .map(entry);
}

/**
 * How the drain went: how many sessions it cut short (ended other than `closed` once it began,
 * adopted ones included), and the ids of those still in the record.
 */
export function drainReport(ctx: SupervisorContext): { cut: number; sessions: string[] } {
  const { since, cut } = ctx.drain;
  if (since === null) return { cut: 0, sessions: [] };
  const sessions = ctx.ended.filter((id) => {
    const s = ctx.sessions[id];
    return s !== undefined && s.since >= since && s.state !== 'closed';
  });
  return { cut, sessions };
}
