import type { Reply, Subjects } from '../../protocol/index.ts';
import type { Bus } from '../nats/bus.ts';
import type { InspectHistory, SessionHistory } from './history.ts';

/**
 * Answers `history` requests from `history`, which the supervisor feeds with every inspection
 * event of the pool (its own included, so a worker_lost verdict is recorded like any transition).
 */
export function serveHistory(
  bus: Bus,
  s: Subjects,
  history: InspectHistory,
  /** Where to look for a session this process has no history of (the durable record). */
  fallback?: (session: string) => Promise<SessionHistory | undefined>,
): void {
  bus.subscribe(s.history, async (msg): Promise<Reply | undefined> => {
    if (msg.type !== 'history') return undefined;
    const h = history.get(msg.session) ?? (await fallback?.(msg.session));
    if (!h) {
      return bus.make('error', {
        ref: msg.id,
        error: {
          code: 'unknown_session',
          message: `no history of session '${msg.session}': never seen, or older than the last ${history.limits.endedSessions} ended sessions`,
        },
      });
    }
    return bus.make('history.ok', {
      ref: msg.id,
      session: h.session,
      worker: h.worker,
      ended: h.ended,
      dropped: h.dropped,
      transitions: h.transitions,
    });
  });
}
