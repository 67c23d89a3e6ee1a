import type { NodeConnectionOptions, Subscription } from '@nats-io/transport-node';
import {
  type ClientRequest,
  FINAL_SESSION_STATES,
  type MessageOf,
  type SessionState,
  subjects,
} from '../protocol/index.ts';
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

  async dispatch(body: DispatchBody, timeoutMs = 5000): Promise<MessageOf<'dispatch.ok'>> {
    return (await this.request(this.bus.make('dispatch', body), timeoutMs)) as MessageOf<'dispatch.ok'>;
  }

  async status(timeoutMs = 5000): Promise<MessageOf<'status.ok'>> {
    return (await this.request(this.bus.make('status', {}), timeoutMs)) as MessageOf<'status.ok'>;
  }

  /**
   * Calls `onTransition` for every transition of `session` that the supervisor reports, and
   * resolves with the final state. Subscribe before dispatching so no transition is missed.
   */
  follow(
    session: () => string | undefined,
    onTransition: (t: SessionTransition) => void,
  ): {
    done: Promise<SessionTransition>;
    sub: Subscription;
  } {
    let resolve!: (t: SessionTransition) => void;
    const done = new Promise<SessionTransition>((r) => {
      resolve = r;
    });
    const seen = new Set<number>();
    const sub = this.bus.subscribe(this.subjects.inspectAll, (msg) => {
      if (msg.type !== 'inspect' || msg.actor.kind !== 'session' || msg.actor.id !== session()) return;
      if (seen.has(msg.seq)) return;
      seen.add(msg.seq);
      const t: SessionTransition = {
        session: msg.actor.id,
        from: msg.fromState,
        to: msg.toState,
        event: msg.event,
        seq: msg.seq,
        ts: msg.ts,
        summary: msg.summary,
      };
      onTransition(t);
      if ((FINAL_SESSION_STATES as readonly string[]).includes(msg.toState)) resolve(t);
    });
    return { done, sub };
  }

  async close(): Promise<void> {
    await this.bus.close();
  }

  private request(msg: ClientRequest, timeoutMs: number) {
    const subject = msg.type === 'dispatch' ? this.subjects.dispatch : this.subjects.status;
    return this.bus.request(subject, msg, timeoutMs);
  }
}
