import type { NodeConnectionOptions, Subscription } from '@nats-io/transport-node';
import { FINAL_SESSION_STATES, type MessageOf, type SessionState, subjects } from '../protocol/index.ts';
import type { Logger } from './logger.ts';
import { natsInboxPrefix } from './nats/auth.ts';
import { Bus } from './nats/bus.ts';

export type DispatchBody = Omit<MessageOf<'dispatch'>, 'v' | 'id' | 'ts' | 'from' | 'type'>;

/** A transition of one session, as a client sees it. */
export interface SessionTransition {
  session: string;
  from: string | null;
  to: SessionState | string;
  event: string;
  seq: number;
  ts: number;
  summary: Record<string, unknown>;
}

/** What any NATS client can do with a pool: dispatch, read status, follow a session. */
export class PoolClient {
  private constructor(
    readonly bus: Bus,
    readonly pool: string,
  ) {}

  static async connect(opts: {
    url: string;
    pool: string;
    log: Logger;
    id?: string;
    natsAuth?: Partial<NodeConnectionOptions>;
  }): Promise<PoolClient> {
    const id = opts.id ?? `client-${process.pid}`;
    const bus = await Bus.connect({
      url: opts.url,
      name: `openrtc-${id}`,
      self: id,
      log: opts.log,
      connect: { ...opts.natsAuth, inboxPrefix: natsInboxPrefix(opts.pool, { kind: 'client' }) },
    });
    return new PoolClient(bus, opts.pool);
  }

  get subjects() {
    return subjects(this.pool);
  }

  dispatch(body: DispatchBody, timeoutMs = 5000): Promise<MessageOf<'dispatch.ok'>> {
    return this.bus.request(this.subjects.dispatch, this.bus.make('dispatch', body), timeoutMs);
  }

  status(timeoutMs = 5000): Promise<MessageOf<'status.ok'>> {
    return this.bus.request(this.subjects.status, this.bus.make('status', {}), timeoutMs);
  }

  /** A rolling upgrade (docs/operations.md); answered once the new generation serves, or failed. */
  rollout(rolloutTimeoutMs: number, timeoutMs = rolloutTimeoutMs + 10_000): Promise<MessageOf<'rollout.ok'>> {
    return this.bus.request(
      this.subjects.rollout,
      this.bus.make('rollout', { timeoutMs: rolloutTimeoutMs }),
      timeoutMs,
    );
  }

  /**
   * Follows one session's transitions. Subscribe before dispatching, then call `track(id)` with
   * the id the dispatch returned: transitions that arrived before (a fast session can be well
   * under way by then) are replayed, so none is missed. `done` resolves with the final one.
   */
  follow(onTransition: (t: SessionTransition) => void): {
    track(session: string): void;
    done: Promise<SessionTransition>;
    sub: Subscription;
  } {
    let resolve!: (t: SessionTransition) => void;
    const done = new Promise<SessionTransition>((r) => {
      resolve = r;
    });
    let tracked: string | undefined;
    const seen = new Set<number>();
    // Transitions of not-yet-known sessions, bounded: only the newest sessions are kept.
    const early = new Map<string, SessionTransition[]>();
    const deliver = (t: SessionTransition) => {
      if (seen.has(t.seq)) return;
      seen.add(t.seq);
      onTransition(t);
      if ((FINAL_SESSION_STATES as readonly string[]).includes(t.to)) resolve(t);
    };
    const sub = this.bus.subscribe(this.subjects.inspectAll, (msg) => {
      if (msg.type !== 'inspect' || msg.actor.kind !== 'session') return;
      const t: SessionTransition = {
        session: msg.actor.id,
        from: msg.fromState,
        to: msg.toState,
        event: msg.event,
        seq: msg.seq,
        ts: msg.ts,
        summary: msg.summary,
      };
      if (tracked === undefined) {
        const list = early.get(t.session) ?? [];
        list.push(t);
        early.set(t.session, list);
        if (early.size > 256) early.delete(early.keys().next().value as string);
      } else if (t.session === tracked) deliver(t);
    });
    const track = (session: string) => {
      tracked = session;
      for (const t of (early.get(session) ?? []).sort((a, b) => a.seq - b.seq)) deliver(t);
      early.clear();
    };
    return { track, done, sub };
  }

  async close(): Promise<void> {
    await this.bus.close();
  }
}
