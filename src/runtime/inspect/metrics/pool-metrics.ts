import { type ErrorData, FINAL_SESSION_STATES, type SessionState } from '../../../protocol/index.ts';
import type { SessionUpdate } from '../../supervisor/service.ts';
import type { StatusReply } from '../source.ts';

/** What the metrics need from a supervisor in this process. */
export interface MetricsSource {
  onSession(listener: (e: SessionUpdate) => void): () => void;
  status(ref: string): StatusReply;
  ledger: { get(session: string): { agent: string; dispatchedAt: number } | undefined };
}

export type Outcome = 'success' | 'failed' | 'cancelled';

/** A session's life, in OpenRTC's event names. */
export type LifecycleEvent =
  | { event: 'session_started'; session: string; agent: string; worker: string; at: number }
  | {
      event: 'session_finished' | 'session_failed';
      session: string;
      agent: string;
      worker: string;
      outcome: Outcome;
      state: SessionState;
      durationMs: number | null;
      at: number;
      error?: ErrorData;
    }
  | {
      event: 'session_active';
      session: string;
      agent: string;
      worker: string;
      dispatchToActiveMs: number;
      at: number;
    };

const OUTCOME: Record<string, Outcome> = { closed: 'success', failed: 'failed', cancelled: 'cancelled' };

/**
 * Turns the supervisor's session updates into lifecycle events, once each (a final state can be
 * reported twice: by the transition and by the end), and keeps the pool's running totals.
 */
export class PoolMetrics {
  readonly startedAt = Date.now();
  totalStarted = 0;
  totalFailed = 0;
  lastRoutedAgent: string | null = null;
  lastError: string | null = null;
  private readonly seen = new Map<string, { started: number; active: boolean; ended: boolean }>();
  private readonly listeners = new Set<(e: LifecycleEvent) => void>();
  private readonly off: () => void;

  constructor(
    readonly source: MetricsSource,
    readonly registeredAgents: number,
    private readonly memory = 20_000,
  ) {
    this.off = source.onSession((u) => this.onUpdate(u));
  }

  onLifecycle(listener: (e: LifecycleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): StatusReply {
    return this.source.status('metrics');
  }

  /** OpenRTC's snapshot fields, plus the pool's workers, health and rejections. */
  snapshot(now = Date.now()): Record<string, unknown> {
    const s = this.status();
    const running = s.sessions.filter((x) => !(FINAL_SESSION_STATES as readonly string[]).includes(x.state));
    const byAgent: Record<string, number> = {};
    for (const x of running) byAgent[x.agent] = (byAgent[x.agent] ?? 0) + 1;
    return {
      timestamp: now / 1000,
      uptime_seconds: (now - this.startedAt) / 1000,
      registered_agents: this.registeredAgents,
      active_sessions: running.length,
      total_sessions_started: this.totalStarted,
      total_session_failures: this.totalFailed,
      last_routed_agent: this.lastRoutedAgent,
      last_error: this.lastError,
      sessions_by_agent: byAgent,
      pool: s.pool,
      health: s.health,
      workers: s.workers.map((w) => ({
        worker: w.worker,
        state: w.state,
        supervision: w.supervision,
        active: w.active,
        capacity: w.capacity,
        rss_bytes: w.rssBytes,
        restarts: w.restarts,
      })),
      rejected: s.rejected,
      ...(s.breakers ? { breakers: s.breakers } : {}),
      ...(s.tenants ? { sessions_by_tenant: s.tenants } : {}),
    };
  }

  close(): void {
    this.off();
    this.listeners.clear();
  }

  private onUpdate(u: SessionUpdate): void {
    const now = Date.now();
    const entry = this.source.ledger.get(u.session);
    const agent = entry?.agent ?? '?';
    let s = this.seen.get(u.session);
    if (!s) {
      s = { started: entry?.dispatchedAt ?? now, active: false, ended: false };
      this.seen.set(u.session, s);
      for (const key of this.seen.keys()) {
        if (this.seen.size <= this.memory) break;
        this.seen.delete(key);
      }
      this.totalStarted++;
      this.lastRoutedAgent = agent;
      this.emit({ event: 'session_started', session: u.session, agent, worker: u.worker, at: now });
    }
    if (u.state === 'active' && !s.active) {
      s.active = true;
      this.emit({
        event: 'session_active',
        session: u.session,
        agent,
        worker: u.worker,
        dispatchToActiveMs: now - s.started,
        at: now,
      });
    }
    const outcome = OUTCOME[u.state];
    if (!outcome || s.ended) return;
    s.ended = true;
    if (outcome === 'failed') {
      this.totalFailed++;
      if (u.error) this.lastError = `${u.error.code}: ${u.error.message}`;
    }
    this.emit({
      event: outcome === 'failed' ? 'session_failed' : 'session_finished',
      session: u.session,
      agent,
      worker: u.worker,
      outcome,
      state: u.state,
      durationMs: entry ? now - entry.dispatchedAt : null,
      at: now,
      ...(u.error ? { error: u.error } : {}),
    });
  }

  private emit(e: LifecycleEvent): void {
    for (const l of this.listeners) l(e);
  }
}
