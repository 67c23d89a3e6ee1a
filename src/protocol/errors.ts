import { ERROR_CODES, type ErrorCode, type ErrorData } from './common.ts';

/** Why a message was refused. Also the key of the rejection counters in heartbeats and status. */
export type RejectReason =
  | 'invalid_json'
  | 'payload_too_large'
  | 'not_plain_data'
  | 'unknown_type'
  | 'invalid_fields'
  | 'wrong_subject'
  | 'unknown_subject'
  | 'unsupported_version';

/** A message that could not be encoded or decoded: says what, on which subject, and where. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly reason: RejectReason,
    message: string,
    readonly context: { subject?: string; messageType?: string; path?: string } = {},
  ) {
    super(message);
  }

  /** The wire form: errors cross as data, never as Error objects. */
  toData(): ErrorData {
    const details: Record<string, string> = { reason: this.reason };
    if (this.context.subject) details.subject = this.context.subject;
    if (this.context.messageType) details.messageType = this.context.messageType;
    if (this.context.path !== undefined) details.path = this.context.path;
    return { code: 'invalid_message', message: this.message, details };
  }
}

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Converts anything thrown into wire data; the one place that does. An error that knows its wire
 * form (`toData()`) gives it; a value that carries a known error `code` (ErrorData, a typed error)
 * keeps it; anything else gets `code` and a readable message. Unknown values never leak their
 * internals.
 */
export function toErrorData(err: unknown, code: ErrorCode = 'internal'): ErrorData {
  if (knowsItsData(err)) return err.toData();
  if (typeof err === 'object' && err !== null) {
    const { code: own, message } = err as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' && message !== '' ? message : undefined;
    if (typeof own === 'string' && CODES.has(own)) return { code: own as ErrorCode, message: text ?? own };
    return { code, message: text ?? (err instanceof Error ? err.name : 'unknown error') };
  }
  if (typeof err === 'string' && err !== '') return { code, message: err };
  if (typeof err === 'number' || typeof err === 'boolean') return { code, message: String(err) };
  return { code, message: err === undefined ? 'no reason given' : 'unknown error' };
}

/** An error that knows its own wire form: a ProtocolError, a bus request's RequestFailedError. */
export interface ErrorWithData extends Error {
  toData(): ErrorData;
}

function knowsItsData(err: unknown): err is ErrorWithData {
  return err instanceof Error && typeof (err as Partial<ErrorWithData>).toData === 'function';
}

/** Formats a property path as `a.b[2].c`; the empty path is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}
