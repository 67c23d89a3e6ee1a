import type { NodeConnectionOptions, Subscription } from '@nats-io/transport-node';
import type { MessageOf } from '../../protocol/index.ts';
import { PoolClient } from '../client.ts';
import type { Logger } from '../logger.ts';
import { type InspectEvent, toInspectEvent } from './events.ts';
import type { SessionHistory } from './history.ts';

export type StatusReply = MessageOf<'status.ok'>;

/** What an inspector reads from a pool: live transitions, status, and a session's history. */
export interface InspectSource {
  readonly pool: string;
  /** Calls `onEvent` with every inspection event of the pool until the returned function is called. */
  subscribe(onEvent: (e: InspectEvent) => void): () => void;
  status(timeoutMs?: number): Promise<StatusReply>;
  history(session: string, timeoutMs?: number): Promise<SessionHistory>;
  close(): Promise<void>;
}

/** An InspectSource over NATS: works against any pool this process can reach. */
export class NatsInspectSource implements InspectSource {
  private readonly subs = new Set<Subscription>();
  private constructor(private readonly client: PoolClient) {}

  static async connect(opts: {
    url: string;
    pool: string;
    log: Logger;
    natsAuth?: Partial<NodeConnectionOptions>;
  }): Promise<NatsInspectSource> {
    const client = await PoolClient.connect({
      url: opts.url,
      pool: opts.pool,
      log: opts.log,
      id: `inspect-${process.pid}`,
      ...(opts.natsAuth ? { natsAuth: opts.natsAuth } : {}),
    });
    return new NatsInspectSource(client);
  }

  get pool(): string {
    return this.client.pool;
  }

  subscribe(onEvent: (e: InspectEvent) => void): () => void {
    const sub = this.client.bus.subscribe(this.client.subjects.inspectAll, (msg) => {
      if (msg.type === 'inspect') onEvent(toInspectEvent(msg));
    });
    this.subs.add(sub);
    return () => {
      sub.unsubscribe();
      this.subs.delete(sub);
    };
  }

  /** Resolves once the server has registered every subscription made so far. */
  async flush(): Promise<void> {
    await this.client.bus.flush();
  }

  status(timeoutMs = 3000): Promise<StatusReply> {
    return this.client.status(timeoutMs);
  }

  async history(session: string, timeoutMs = 3000): Promise<SessionHistory> {
    const { bus, subjects } = this.client;
    const reply = await bus.request(subjects.history, bus.make('history', { session }), timeoutMs);
    return {
      session: reply.session,
      worker: reply.worker,
      ended: reply.ended,
      dropped: reply.dropped,
      transitions: reply.transitions,
    };
  }

  async close(): Promise<void> {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs.clear();
    await this.client.close();
  }
}
