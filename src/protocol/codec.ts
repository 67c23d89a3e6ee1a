import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  MESSAGE_SCHEMAS,
  type Message,
  type MessageBody,
  type MessageOf,
  type MessageType,
  VERSION_INDEPENDENT,
} from './catalogue.ts';
import { formatPath, ProtocolError } from './errors.ts';
import { findNotPlain, findTooDeep, MAX_NESTING_DEPTH } from './plain-data.ts';
import { ALLOWED_TYPES, type ParsedSubject, parseSubject } from './subjects.ts';
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS } from './version.ts';

/** Default payload limit: well under nats-server's default max_payload of 1 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;

export interface CodecOptions {
  maxPayloadBytes?: number;
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: ProtocolError };

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The schema each type is checked with, AOT-compiled by zod's `z.compile`: a generated fast path
 * that accepts exactly what the schema accepts, and hands anything it does not accept to the same
 * runtime parser, so a rejected message gets the same issues and paths as from the plain schema.
 * A schema zod cannot compile as a whole (a field holding `z.json()`, whose definition is recursive)
 * is rebuilt with each of its fields compiled, and the recursive field left to the runtime parser.
 */
const CHECKERS: ReadonlyMap<string, z.ZodType> = new Map(
  Object.entries(MESSAGE_SCHEMAS as Record<string, z.ZodObject>).map(([type, schema]) => [
    type,
    compiled(schema),
  ]),
);

function compiled(schema: z.ZodObject): z.ZodType {
  try {
    return z.compile(schema, { strict: true });
  } catch {
    const shape: Record<string, z.ZodType> = {};
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      shape[key] = z.compile(field);
    }
    return schema.extend(shape);
  }
}

/** Stamps the envelope on a message body: protocol version, a fresh id, now, and the sender. */
export function envelope<T extends MessageType>(
  type: T,
  from: string,
  body: Omit<MessageBody<T>, 'type'>,
  stamp: { id?: string; ts?: number; v?: number } = {},
): MessageOf<T> {
  return {
    v: stamp.v ?? PROTOCOL_VERSION,
    id: stamp.id ?? randomUUID(),
    ts: stamp.ts ?? Date.now(),
    from,
    type,
    ...body,
  } as unknown as MessageOf<T>;
}

/**
 * Validates a message and encodes it as UTF-8 JSON. Throws ProtocolError naming the type and
 * the path when the value is not plain data, does not match its schema, or is too large.
 */
export function encode(msg: Message, opts: CodecOptions = {}): Uint8Array {
  const messageType = typeof msg?.type === 'string' ? msg.type : undefined;
  const notPlain = findNotPlain(msg);
  if (notPlain) {
    throw new ProtocolError(
      'not_plain_data',
      `cannot encode ${messageType ?? 'message'}: ${notPlain.path} is ${notPlain.what}; only plain JSON data crosses a process boundary`,
      { messageType, path: notPlain.path },
    );
  }
  // A Map, not an object: `constructor` or `toString` are not message types.
  const schema = messageType ? CHECKERS.get(messageType) : undefined;
  if (!schema) {
    throw new ProtocolError('unknown_type', `cannot encode: unknown message type '${String(messageType)}'`, {
      messageType,
      path: 'type',
    });
  }
  const parsed = schema.safeParse(msg);
  if (!parsed.success) throw fieldError(parsed.error, { messageType }, 'cannot encode');
  // Buffer.from is several times faster than TextEncoder on short strings; callers get a plain view.
  const buf = Buffer.from(JSON.stringify(msg), 'utf8');
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const limit = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (bytes.byteLength > limit) {
    throw new ProtocolError(
      'payload_too_large',
      `cannot encode ${messageType}: ${bytes.byteLength} bytes exceeds the ${limit}-byte limit`,
      { messageType },
    );
  }
  return bytes;
}

/**
 * Decodes bytes that arrived on `subject`. Never throws: returns the typed message, or a
 * ProtocolError that names the subject, the message type and the failing field path.
 */
export function decode(data: Uint8Array | string, subject: string, opts: CodecOptions = {}): DecodeResult {
  try {
    return decodeUnsafe(data, subject, opts);
  } catch (err) {
    // Defence in depth: nothing thrown while decoding may escape to the bus.
    return {
      ok: false,
      error: new ProtocolError('invalid_json', `${subject}: undecodable message (${String(err)})`, {
        subject,
      }),
    };
  }
}

function decodeUnsafe(data: Uint8Array | string, subject: string, opts: CodecOptions): DecodeResult {
  const limit = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > limit) {
    return reject('payload_too_large', `${subject}: ${size} bytes exceeds the ${limit}-byte limit`, {
      subject,
    });
  }
  const parsedSubject = parseSubjectCached(subject);
  if (!parsedSubject) return reject('unknown_subject', `${subject}: not an openrtc subject`, { subject });

  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : utf8Decoder.decode(data));
  } catch (err) {
    return reject('invalid_json', `${subject}: not JSON (${(err as Error).message})`, { subject });
  }
  const type = (raw as { type?: unknown } | null)?.type;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('invalid_fields', `${subject}: expected a JSON object`, { subject, path: '(root)' });
  }
  const schema = typeof type === 'string' ? CHECKERS.get(type) : undefined;
  if (schema === undefined) {
    // Never stringify the whole value: it may be huge or nested deep enough to overflow the stack.
    const what =
      typeof type === 'string'
        ? `unknown message type ${JSON.stringify(type.slice(0, 80))}`
        : type === undefined
          ? 'message has no type'
          : `type must be a string, not ${Array.isArray(type) ? 'an array' : type === null ? 'null' : `a ${typeof type}`}`;
    return reject('unknown_type', `${subject}: ${what}`, { subject, path: 'type' });
  }
  const messageType = type as MessageType;
  if (!ALLOWED_TYPES[parsedSubject.kind].includes(messageType)) {
    return reject('wrong_subject', `${subject}: '${messageType}' is not accepted on this subject`, {
      subject,
      messageType,
      path: 'type',
    });
  }
  const v = (raw as { v?: unknown }).v;
  if (
    !VERSION_INDEPENDENT.has(messageType) &&
    typeof v === 'number' &&
    (v < SUPPORTED_VERSIONS.min || v > SUPPORTED_VERSIONS.max)
  ) {
    return reject(
      'unsupported_version',
      `${subject}: ${messageType} has protocol version ${v}; this build speaks ${SUPPORTED_VERSIONS.min}..${SUPPORTED_VERSIONS.max}`,
      { subject, messageType, path: 'v' },
    );
  }
  // The type is known by now: its own schema skips the union's dispatch.
  let parsed: z.ZodSafeParseResult<Message>;
  try {
    parsed = (schema as z.ZodType<Message>).safeParse(raw);
  } catch (err) {
    // Validation recurses; a deep enough value exhausts the stack. Depth is only measured on that
    // rare path, so well-formed messages do not pay for it.
    if (!(err instanceof RangeError)) throw err;
    const path = findTooDeep(raw) ?? '(root)';
    return reject(
      'invalid_fields',
      `${subject}: ${messageType} rejected at ${path}: nested deeper than ${MAX_NESTING_DEPTH} levels`,
      { subject, messageType, path },
    );
  }
  if (!parsed.success)
    return { ok: false, error: fieldError(parsed.error, { subject, messageType }, subject) };
  return { ok: true, message: parsed.data };
}

// A process sees few distinct subjects (one per worker and kind), and splitting one costs about as
// much as a fifth of JSON.parse on a typical event. Reply inboxes are unique, so they bypass the cache.
const subjectCache = new Map<string, ParsedSubject | null>();
const SUBJECT_CACHE_LIMIT = 4096;

function parseSubjectCached(subject: string): ParsedSubject | null {
  if (subject.startsWith('_INBOX.')) return parseSubject(subject);
  let parsed = subjectCache.get(subject);
  if (parsed === undefined) {
    parsed = parseSubject(subject);
    if (subjectCache.size >= SUBJECT_CACHE_LIMIT) subjectCache.clear();
    subjectCache.set(subject, parsed);
  }
  return parsed;
}

function reject(
  reason: ProtocolError['reason'],
  message: string,
  context: ProtocolError['context'],
): { ok: false; error: ProtocolError } {
  return { ok: false, error: new ProtocolError(reason, message, context) };
}

function fieldError(
  error: z.ZodError,
  context: { subject?: string; messageType?: string },
  prefix: string,
): ProtocolError {
  const path = formatPath(error.issues[0]?.path ?? []);
  const pretty = z.prettifyError(error).replaceAll('\n', '; ');
  return new ProtocolError(
    'invalid_fields',
    `${prefix}: ${context.messageType} rejected at ${path}: ${pretty}`,
    {
      ...context,
      path,
    },
  );
}
