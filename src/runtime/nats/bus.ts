import type { JetStreamClient } from '@nats-io/jetstream';
import {
  connect,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  errors as nats,
  type Subscription,
} from '@nats-io/transport-node';
import {
  type CodecOptions,
  decode,
  type ErrorData,
  encode,
  envelope,
  isReplyTo,
  type Message,
  type MessageOf,
  type MessageType,
  ProtocolError,
  type RejectReason,
  type Reply,
  type ReplyOf,
  type RequestMessage,
  toErrorData,
} from '../../protocol/index.ts';
import { LogLimiter } from '../log-limiter.ts';
import type { Logger } from '../logger.ts';
import { NatsConnectError } from './connect-error.ts';
import {
  ErrorReplyError,
  InvalidMessageError,
  NatsUnavailableError,
  NoRespondersError,
  RequestFailedError,
  RequestTimeoutError,
} from './errors.ts';

export {
  ErrorReplyError,
  InvalidMessageError,
  NatsUnavailableError,
  NoRespondersError,
  RequestFailedError,
  RequestTimeoutError,
} from './errors.ts';

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
  /**
   * Throw when an outgoing message fails to encode, instead of only counting and logging it.
   * Default: on under vitest (`VITEST` is set), so a test cannot pass on a message never sent.
   */
  strict?: boolean;
}

/** Key of `rejected` that counts this process's own messages the codec refused to send. */
export const ENCODE_FAILED = 'encode_failed';

export type Handler = (msg: Message, raw: Msg) => void | Reply | Promise<void | Reply>;

/**
 * The NATS side of a process: every message in and out goes through the codec. Rejected input is
 * logged with its reason and counted; a handler that throws answers a request with an error reply.
 */
export class Bus {
  /** Messages refused, by reason: incoming ones by the decoder, outgoing ones as `encode_failed`. */
  readonly rejected: Partial<Record<RejectReason | typeof ENCODE_FAILED, number>> = {};
  private linkUp = true;
  /** Every rejection is counted; only a few per reason are logged. */
  private readonly rejectLog = new LogLimiter();
  private readonly linkListeners = new Set<(up: boolean) => void>();
  private readonly strict: boolean;
  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: BusOptions,
  ) {
    this.strict = opts.strict ?? process.env.VITEST !== undefined;
  }

  static async connect(opts: BusOptions): Promise<Bus> {
    const nc = await connect({
      servers: opts.url.split(','),
      name: opts.name,
      // Never give up: a pool outlives NATS blips. Short pings detect a half-open link in seconds.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2000,
      maxPingOut: 2,
      // nats.js builds two Errors per request (RequestError, TimeoutError) only for their stack
      // traces: measurable on the dispatch path (docs/benchmarks/profiles/dispatch-path.json). A
      // failed request is a RequestFailedError naming the operation and subject anyway.
      noAsyncTraces: true,
      ...opts.connect,
    }).catch((err: unknown) => {
      throw new NatsConnectError(opts.url, err);
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
    const data = this.encode(msg, subject);
    if (!data) return;
    try {
      this.nc.publish(subject, data);
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
   * Request/reply. Resolves with the reply to this request type (REPLIES in the catalogue). Rejects
   * with a RequestFailedError subclass: ErrorReplyError for an `error` reply, RequestTimeoutError,
   * NoRespondersError, InvalidMessageError for a reply that is not one, and NatsUnavailableError at
   * once while the link is down (instead of waiting out the timeout).
   */
  async request<M extends RequestMessage>(
    subject: string,
    msg: M,
    timeoutMs: number,
  ): Promise<ReplyOf<M['type']>> {
    const operation: M['type'] = msg.type;
    if (!this.linkUp) throw new NatsUnavailableError(operation, subject);
    let data: Uint8Array;
    try {
      data = encode(msg, this.opts);
    } catch (err) {
      this.countEncodeFailure(err, subject, msg.type);
      throw new InvalidMessageError(operation, subject, toErrorData(err), { cause: err });
    }
    let raw: Msg;
    try {
      raw = await this.nc.request(subject, data, { timeout: timeoutMs });
    } catch (err) {
      throw requestError(err, operation, subject, timeoutMs);
    }
    const result = decode(raw.data, raw.subject, this.opts);
    if (!result.ok) {
      this.count(result.error);
      throw new InvalidMessageError(operation, subject, result.error.toData(), { cause: result.error });
    }
    const reply = result.message as Reply;
    if (!isReplyTo(operation, reply)) {
      const error = new ProtocolError('wrong_subject', `${reply.type} does not answer ${operation}`, {
        subject: raw.subject,
        messageType: reply.type,
        path: 'type',
      });
      this.count(error);
      throw new InvalidMessageError(operation, subject, error.toData(), { cause: error });
    }
    if (reply.type === 'error') throw new ErrorReplyError(operation, subject, reply.error);
    return reply as ReplyOf<M['type']>;
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
    const data = this.encode(reply, raw.subject);
    if (!data) return;
    try {
      raw.respond(data);
    } catch (err) {
      this.log.error({ err: toErrorData(err), subject: raw.subject, type: reply.type }, 'reply failed');
    }
  }

  respondError(raw: Msg, error: ErrorData, ref?: string): void {
    this.respond(raw, this.make('error', ref ? { ref, error } : { error }));
  }

  /** Resolves once nats-server has processed everything sent so far (subscriptions included). */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  /** Drains (pending messages are delivered, subscriptions end), then closes; idempotent. */
  /**
   * JetStream on this bus's connection (the durable record, the leadership lease): the one door
   * to it; the connection itself stays private. Loaded on first use.
   */
  async jetstream(): Promise<JetStreamClient> {
    const { jetstream } = await import('@nats-io/jetstream');
    return jetstream(this.nc);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }

  /** Encodes an outgoing message; a refusal is counted and logged, and thrown when strict. */
  private encode(msg: Message, subject: string): Uint8Array | undefined {
    try {
      return encode(msg, this.opts);
    } catch (err) {
      this.countEncodeFailure(err, subject, msg?.type);
      if (this.strict) throw err;
      return undefined;
    }
  }

  private countEncodeFailure(err: unknown, subject: string, type: string | undefined): void {
    this.rejected[ENCODE_FAILED] = (this.rejected[ENCODE_FAILED] ?? 0) + 1;
    const { log, suppressed } = this.rejectLog.allow(ENCODE_FAILED);
    if (!log) return;
    this.log.error(
      { err: toErrorData(err), subject, type, ...(suppressed ? { suppressed } : {}) },
      'message not sent: it does not encode',
    );
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
      {
        reason: error.reason,
        ...error.context,
        detail: error.message.slice(0, 500),
        ...(suppressed ? { suppressed } : {}),
      },
      'rejected message',
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
        } else if (s.type === 'error' && s.error instanceof nats.PermissionViolationError) {
          // nats-server dropped what this process sent or refused a subscription: say so, once each.
          const { operation, subject } = s.error;
          this.log.warn({ operation, subject, err: toErrorData(s.error) }, 'nats permission violation');
        }
      }
    })().catch(() => {});
  }
}

/** The typed error of a failed nats.js request: timeouts and missing responders by their type. */
function requestError(
  err: unknown,
  operation: RequestMessage['type'],
  subject: string,
  timeoutMs: number,
): RequestFailedError {
  const cause = err instanceof nats.RequestError && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof nats.NoRespondersError)
    return new NoRespondersError(operation, subject, { cause: err });
  if (cause instanceof nats.TimeoutError)
    return new RequestTimeoutError(operation, subject, timeoutMs, { cause: err });
  return new RequestFailedError(operation, subject, toErrorData(err), { cause: err });
}
