import type { ErrorData, MessageOf, SessionState } from '../../protocol/index.ts';

/** A dispatch request's body (what a client sends, without the envelope). */
export type DispatchBody = Omit<MessageOf<'dispatch'>, 'v' | 'id' | 'ts' | 'from' | 'type'>;

export type DispatchOutcome =
  | { ok: true; session: string; worker: string; agent: string; jobId: string; existing: boolean }
  | { ok: false; error: ErrorData };

/** A session state the supervisor learned: from its worker, or its own verdict (worker lost). */
export interface SessionUpdate {
  session: string;
  worker: string;
  state: SessionState;
  seq: number;
  error?: ErrorData;
}
export type SessionListener = (e: SessionUpdate) => void;
