import type { ErrorData, SessionState } from '../../protocol/index.ts';

export interface LedgerEntry {
  session: string;
  agent: string;
  jobId: string;
  dispatchedAt: number;
  /** null while running. */
  end: { state: SessionState; at: number; error?: ErrorData } | null;
  speech: { start: number; end: number };
}

/**
 * Every session this supervisor dispatched and how it ended: the account the reliability tests
 * check (nothing lost silently, nothing twice). Bounded: the oldest ended entries are dropped.
 */
export class Ledger {
  private readonly entries = new Map<string, LedgerEntry>();
  private readonly rejections: Record<string, number> = {};

  constructor(private readonly limit = 10_000) {}

  dispatched(session: string, agent: string, jobId: string): void {
    if (this.entries.has(session)) return;
    this.entries.set(session, {
      session,
      agent,
      jobId,
      dispatchedAt: Date.now(),
      end: null,
      speech: { start: 0, end: 0 },
    });
    this.trim();
  }

  /** Records a session's end once; a second report of the same end is ignored. */
  ended(session: string, state: SessionState, error?: ErrorData): void {
    const entry = this.entries.get(session);
    if (!entry || entry.end) return;
    entry.end = { state, at: Date.now(), ...(error ? { error } : {}) };
  }

  speech(session: string, kind: 'start' | 'end'): void {
    const entry = this.entries.get(session);
    if (entry) entry.speech[kind]++;
  }

  rejected(reason: string): void {
    this.rejections[reason] = (this.rejections[reason] ?? 0) + 1;
  }

  rejectionCounts(): Readonly<Record<string, number>> {
    return this.rejections;
  }

  get(session: string): LedgerEntry | undefined {
    return this.entries.get(session);
  }

  all(): LedgerEntry[] {
    return [...this.entries.values()];
  }

  private trim(): void {
    if (this.entries.size <= this.limit) return;
    for (const [id, e] of this.entries) {
      if (this.entries.size <= this.limit) break;
      if (e.end) this.entries.delete(id);
    }
  }
}
