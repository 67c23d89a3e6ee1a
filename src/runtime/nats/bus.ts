import {
  connect,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  RequestError,
  type Subscription,
  TimeoutError,
} from '@nats-io/transport-node';
import {
  type CodecOptions,
  decode,
  type ErrorData,
  encode,
  envelope,
  type Message,
  type MessageOf,
  type MessageType,
  type ProtocolError,
  type RejectReason,
  type Reply,
  toErrorData,
} from '../../protocol/index.ts';
import { LogLimiter } from '../log-limiter.ts';
import type { Logger } from '../logger.ts';

export interface BusOptions extends CodecOptions {
  /** nats://host:port, or several comma-separated. */
  url: string;
  /** Connection name shown by nats-server (`openrtc-worker-w1`). */
  name: string;
  /** This process's id, stamped as `from` on every message it sends. */
  self: string;
  log: Logger;
  /** Extra nats.js options: credentials, TLS. */
  connect?: Partial<NodeConnectionOptions>;
}

/** A request that got no usable answer: no responder, a timeout, or an error reply. */
export class RequestFailedError extends Error {
  override readonly name = 'RequestFailedError';
  constructor(
    readonly subject: string,
    readonly error: ErrorData,
  ) {
    super(`${subject}: ${error.message}`);
  }
}

export type Handler = (msg: Message, raw: Msg) => void | Reply | Promise<void | Reply>;

/**
 * The NATS side of a process: every message in and out goes through the codec. Rejected input is
 * logged with its reason and counted; a handler that throws answers a request with an error reply.
 */
export class Bus {
  readonly rejected: Partial<Record<RejectReason, number>> = {};
  private linkUp = true;
  /** Every rejection is counted; only a few per reason are logged. */
  private readonly rejectLog = new LogLimiter();
  private readonly linkListeners = new Set<(up: boolean) => void>();
  private constructor(
    readonly nc: NatsConnection,
    private readonly opts: BusOptions,
  ) {}

  static async connect(opts: BusOptions): Promise<Bus> {
    const nc = await connect({
      servers: opts.url.split(','),
      name: opts.name,
      // Never give up: a pool outlives NATS blips. Short pings detect a half-open link in seconds.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2000,
      maxPingOut: 2,
      ...opts.connect,
    });
    const bus = new Bus(nc, opts);
    bus.watchStatus();
    return bus;
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** Builds a message from this process. */
  make<T extends MessageType>(
    type: T,
    body: Omit<MessageOf<T>, 'v' | 'id' | 'ts' | 'from' | 'type'>,
  ): MessageOf<T> {
    return envelope(type, this.opts.self, body as never);
  }

  /** Fire-and-forget publish. Messages published while disconnected are lost: callers must not care. */
  publish(subject: string, msg: Message): void {
    try {
      this.nc.publish(subject, encode(msg, this.opts));
    } catch (err) {
      this.log.error({ err: toErrorData(err), subject, type: msg.type }, 'publish failed');
    }
  }

  /** Whether the NATS link is up. While it is down, publishes are lost and requests fail fast. */
  get connected(): boolean {
    return this.linkUp;
  }

  /** Calls `listener(up)` when the NATS link goes down or comes back. */
  onLink(listener: (up: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /**
   * Request/reply. Resolves with the reply; an error reply, timeout or no responder rejects.
   * While the link is down it rejects at once (`nats_unavailable`) instead of waiting out the timeout.
   */
  async request(subject: string, msg: Message, timeoutMs: number): Promise<Reply> {
    if (!this.linkUp) {
      throw new RequestFailedError(subject, {
        code: 'nats_unavailable',
        message: `NATS connection is down (reconnecting); ${msg.type} to ${subject} was not sent`,
      });
    }
    let raw: Msg;
    try {
      raw = await this.nc.request(subject, encode(msg, this.opts), { timeout: timeoutMs });
    } catch (err) {
      throw new RequestFailedError(subject, requestErrorData(err, subject, timeoutMs));
    }
    const result = decode(raw.data, raw.subject, this.opts);
    if (!result.ok) {
      this.count(result.error);
      throw new RequestFailedError(subject, result.error.toData());
    }
    const reply = result.message as Reply;
    if (reply.type === 'error') throw new RequestFailedError(subject, reply.error);
    return reply;
  }

  /** Subscribes with decoding. A handler's returned reply answers the request. */
  subscribe(subject: string, handler: Handler, opts: { queue?: string } = {}): Subscription {
    return this.nc.subscribe(subject, {
      queue: opts.queue,
      callback: (err, raw) => {
        if (err) {
          this.log.error({ err: toErrorData(err), subject }, 'subscription error');
          return;
        }
        void this.handle(raw, handler);
      },
    });
  }

  /** Answers a request message. */
  respond(raw: Msg, reply: Reply): void {
    if (!raw.reply) return;
    try {
      raw.respond(encode(reply, this.opts));
    } catch (err) {
      this.log.error({ err: toErrorData(err), subject: raw.subject, type: reply.type }, 'reply failed');
    }
  }

  respondError(raw: Msg, error: ErrorData, ref?: string): void {
    this.respond(raw, this.make('error', ref ? { ref, error } : { error }));
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }

  private async handle(raw: Msg, handler: Handler): Promise<void> {
    const result = decode(raw.data, raw.subject, this.opts);
    if (!result.ok) {
      this.count(result.error);
      this.respondError(raw, result.error.toData());
      return;
    }
    try {
      const reply = await handler(result.message, raw);
      if (reply) this.respond(raw, reply);
    } catch (err) {
      const error = toErrorData(err);
      this.log.error({ err: error, subject: raw.subject, type: result.message.type }, 'handler failed');
      this.respondError(raw, error, result.message.id);
    }
  }

  private count(error: ProtocolError): void {
    this.rejected[error.reason] = (this.rejected[error.reason] ?? 0) + 1;
    const { log, suppressed } = this.rejectLog.allow(error.reason);
    if (!log) return;
    this.log.warn(
      { reason: error.reason, ...error.context, ...(suppressed ? { suppressed } : {}) },
      `rejected message: ${error.message.slice(0, 500)}`,
    );
  }

  private setLink(up: boolean): void {
    if (this.linkUp === up) return;
    this.linkUp = up;
    for (const l of this.linkListeners) l(up);
  }

  private watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') {
          this.log.warn({ server: s.server }, 'nats disconnected');
          this.setLink(false);
        } else if (s.type === 'reconnect') {
          this.log.info({ server: s.server }, 'nats reconnected');
          this.setLink(true);
        }
      }
    })().catch(() => {});
  }
}

function requestErrorData(err: unknown, subject: string, timeoutMs: number): ErrorData {
  if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
    return { code: 'no_responders', message: `no one is listening on ${subject}` };
  }
  if (err instanceof TimeoutError || (err instanceof RequestError && /timeout/i.test(err.message))) {
    return { code: 'timeout', message: `no reply on ${subject} within ${timeoutMs} ms` };
  }
  return toErrorData(err);
}
