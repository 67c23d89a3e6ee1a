import { z } from 'zod';
import { MessageId, UnixMs } from './common.ts';

/**
 * Fields every message carries. `v` is the protocol version the sender used, `id` is unique per
 * message (and is the idempotency key of a command), `from` is the sender's id (worker id,
 * `supervisor`, or a client id).
 */
export const envelopeShape = {
  v: z.number().int().positive(),
  id: MessageId,
  ts: UnixMs,
  from: z.string().min(1).max(128),
};

/** A message schema: the envelope plus a literal `type` plus the body. */
export function message<T extends string, S extends z.ZodRawShape>(type: T, body: S) {
  return z.object({ ...envelopeShape, type: z.literal(type), ...body });
}

/** Replies name the request they answer. */
export const ref = MessageId.describe('id of the request this answers');
