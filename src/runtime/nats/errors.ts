import type { ErrorCode, ErrorData, RequestType } from '../../protocol/index.ts';

/**
 * A request that got no usable answer. It says which request (`operation`), where (`subject`) and
 * why (`error`, the wire form); `cause` holds the nats.js error or the decoding failure, if any.
 * Callers branch on the subclass, never on the message.
 */
export class RequestFailedError extends Error {
  override name = 'RequestFailedError';
  constructor(
    readonly operation: RequestType,
    readonly subject: string,
    readonly error: ErrorData,
    options?: ErrorOptions,
  ) {
    super(`${operation} on ${subject} failed: ${error.message}`, options);
  }

  /** The error code of `error`. */
  get code(): ErrorCode {
    return this.error.code;
  }

  /** The wire form (what `toErrorData` gives for this error): `error`. */
  toData(): ErrorData {
    return this.error;
  }
}

/** No reply came within the request's timeout. */
export class RequestTimeoutError extends RequestFailedError {
  override name = 'RequestTimeoutError';
  constructor(
    operation: RequestType,
    subject: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(
      operation,
      subject,
      { code: 'timeout', message: `no reply on ${subject} within ${timeoutMs} ms` },
      options,
    );
  }
}

/** Nobody subscribes to the subject: nats-server answered at once that no one is listening. */
export class NoRespondersError extends RequestFailedError {
  override name = 'NoRespondersError';
  constructor(operation: RequestType, subject: string, options?: ErrorOptions) {
    super(
      operation,
      subject,
      { code: 'no_responders', message: `no one is listening on ${subject}` },
      options,
    );
  }
}

/** This process's own NATS link is down (reconnecting): the request was not sent. */
export class NatsUnavailableError extends RequestFailedError {
  override name = 'NatsUnavailableError';
  constructor(operation: RequestType, subject: string) {
    super(operation, subject, {
      code: 'nats_unavailable',
      message: `NATS connection is down (reconnecting); ${operation} to ${subject} was not sent`,
    });
  }
}

/** The responder answered with an `error` reply: `error` is what it sent. */
export class ErrorReplyError extends RequestFailedError {
  override name = 'ErrorReplyError';
}

/** The reply could not be decoded, is not an answer to this request, or the request could not be encoded. */
export class InvalidMessageError extends RequestFailedError {
  override name = 'InvalidMessageError';
}
