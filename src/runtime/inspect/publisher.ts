import { hostname } from 'node:os';
import { type MessageOf, subjects } from '../../protocol/index.ts';
import type { Bus } from '../nats/bus.ts';

export interface Transition {
  actor: MessageOf<'inspect'>['actor'];
  from: string | null;
  to: string;
  event: string;
  /** Per-actor seq (for a session, the same as its `session.state` seq). */
  seq: number;
  /** A small context summary: ids and names only, never tokens, keys or provider options. */
  summary: Record<string, string>;
  /**
   * A worker's session transition that is also its report to the supervisor (the protocol's
   * `transitionsOnInspect`): the worker's epoch, and why the session failed.
   */
  report?: { epoch: string; failure?: MessageOf<'inspect'>['failure'] };
}

/** Publishes a process's machine transitions as `inspect` messages on `openrtc.<pool>.inspect.<source>`. */
export class InspectPublisher {
  private readonly subject: string;
  private readonly host = hostname();

  constructor(
    private readonly bus: Bus,
    private readonly pool: string,
    source: string,
  ) {
    this.subject = subjects(pool).inspect(source);
  }

  publish(t: Transition): void {
    this.bus.publish(
      this.subject,
      this.bus.make('inspect', {
        actor: t.actor,
        pool: this.pool,
        host: this.host,
        pid: process.pid,
        fromState: t.from,
        toState: t.to,
        event: t.event,
        seq: t.seq,
        summary: clipped(t.summary),
        ...(t.report ? { epoch: t.report.epoch } : {}),
        ...(t.report?.failure ? { failure: t.report.failure } : {}),
      }),
    );
  }
}

/** The longest string a summary value may be (the protocol's `Scalar`). */
const SUMMARY_TEXT_MAX = 4096;

/**
 * A summary whose strings fit the protocol: `error` is `code: message`, and a message may be as long
 * as the limit itself. Cut, not refused: the event carries a session's report too.
 */
function clipped(summary: Record<string, string>): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(summary)) {
    if (value.length <= SUMMARY_TEXT_MAX) continue;
    out ??= { ...summary };
    out[key] = `${value.slice(0, SUMMARY_TEXT_MAX - 1)}…`;
  }
  return out ?? summary;
}
