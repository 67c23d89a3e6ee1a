import { ENDED_RECORD_LIMIT, type EndedSession, type Outcome, type SessionState } from '../protocol/index.ts';
import type { HostedSession, SessionEnd } from './worker.types.ts';

/** How long an ended session stays in a worker's record. */
export const ENDED_KEEP_MS = 10 * 60_000;
/** A heartbeat repeats the sessions that ended within this many beats. */
export const ENDED_IN_BEATS = 5;
/** Error messages in the record are cut to this length, so a full hello stays well under NATS's payload limit. */
export const ENDED_MESSAGE_MAX = 200;

const OUTCOME: Partial<Record<SessionState, Outcome>> = {
  closed: 'success',
  cancelled: 'cancelled',
  failed: 'failed',
};

/** The outcome a final session state stands for. */
export function outcomeOf(state: SessionState): Outcome {
  return OUTCOME[state] ?? 'failed';
}

/** The record's entry for a session that ended as `end` says. */
export function endedEntry(hosted: HostedSession, end: SessionEnd): EndedSession {
  const { failure } = end;
  return {
    session: hosted.session,
    agent: hosted.agent,
    jobId: hosted.jobId,
    seq: end.seq,
    outcome: outcomeOf(end.state),
    ...(failure
      ? {
          phase: failure.phase,
          error: { code: failure.code, message: failure.message.slice(0, ENDED_MESSAGE_MAX) },
        }
      : {}),
    endedAt: end.now,
  };
}

/** The record kept to its bounds: the last `limit` (at most ENDED_RECORD_LIMIT), none older than ENDED_KEEP_MS. */
export function trimEnded(record: readonly EndedSession[], limit: number, now: number): EndedSession[] {
  const keep = Math.min(limit, ENDED_RECORD_LIMIT);
  const oldest = now - ENDED_KEEP_MS;
  let cut = 0;
  while (
    cut < record.length &&
    (record.length - cut > keep || (record[cut] as EndedSession).endedAt < oldest)
  )
    cut++;
  return cut === 0 ? [...record] : record.slice(cut);
}

/** The record with `entry` added last (an earlier entry of the same session is dropped), trimmed. */
export function recordEnded(
  record: readonly EndedSession[],
  entry: EndedSession,
  limit: number,
  now: number,
): EndedSession[] {
  return trimEnded([...record.filter((e) => e.session !== entry.session), entry], limit, now);
}

/** The entries that ended at or after `since` and are still within the record's age at `now`, oldest first. */
export function endedSince(record: readonly EndedSession[], since: number, now: number): EndedSession[] {
  const from = Math.max(since, now - ENDED_KEEP_MS);
  return record.filter((e) => e.endedAt >= from);
}
