import { FINAL_SESSION_STATES, type MessageOf, type Scalar } from '../../protocol/index.ts';

/**
 * One transition of one actor, as inspectors see it: the `inspect` message without its
 * envelope, flattened. Plain data: what `--json` prints, what the browser receives.
 */
export interface InspectEvent {
  pool: string;
  actor: { id: string; kind: 'supervisor' | 'worker' | 'session'; parent?: string };
  host: string;
  pid: number;
  from: string | null;
  to: string;
  event: string;
  /** Per-actor transition counter (for a session, the same seq as its `session.state`). */
  seq: number;
  /** When the actor entered `to`, on the publisher's clock (ms since the epoch). */
  ts: number;
  summary: Record<string, Scalar>;
}

/** The plain event an `inspect` message carries, with its summary passed through `redact`. */
export function toInspectEvent(msg: MessageOf<'inspect'>): InspectEvent {
  return {
    pool: msg.pool,
    actor: { ...msg.actor },
    host: msg.host,
    pid: msg.pid,
    from: msg.fromState,
    to: msg.toState,
    event: msg.event,
    seq: msg.seq,
    ts: msg.ts,
    summary: redactSummary(msg.summary),
  };
}

/** True for the states a session never leaves. */
export function isFinalSessionState(state: string): boolean {
  return (FINAL_SESSION_STATES as readonly string[]).includes(state);
}

// Summaries are built from fixed fields (agent, room, worker, error), never from a transport or
// provider options. This is the second line: whatever slips into a summary is cut here.
const SECRET_KEY = /token|secret|password|passwd|api[_-]?key|authorization|credential|cookie/i;
/** A JWT (LiveKit access tokens are JWTs): three base64url parts, the first a JSON header. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
/** `access_token=...`, `token=...`, `Bearer ...` inside a URL or a message. */
const TOKEN_PARAM = /((?:access_)?token=|bearer\s+)[^\s&"']+/gi;
export const REDACTED = '[redacted]';

/** Cuts secrets out of free text: JWTs, token query parameters and bearer credentials. */
export function redactText(text: string): string {
  return text.replace(JWT, REDACTED).replace(TOKEN_PARAM, `$1${REDACTED}`);
}

/** A summary with secret-named keys dropped and secret-looking text redacted. */
export function redactSummary(summary: Record<string, Scalar>): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(summary)) {
    if (SECRET_KEY.test(key)) continue;
    out[key] = typeof value === 'string' ? redactText(value) : value;
  }
  return out;
}
