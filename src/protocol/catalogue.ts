import { z } from 'zod';
import * as m from './messages.ts';

/**
 * The message catalogue: the single source of truth for every type that crosses a process
 * boundary, grouped by direction. Docs, JSON Schema and fixtures are generated from it.
 */
export const WorkerEvent = z.discriminatedUnion('type', [
  m.Hello,
  m.Heartbeat,
  m.WorkerStateChanged,
  m.SessionStateChanged,
  m.SessionEnded,
  m.SessionSpeech,
]);
export type WorkerEvent = z.infer<typeof WorkerEvent>;

export const WorkerCommand = z.discriminatedUnion('type', [
  m.SessionStart,
  m.SessionCancel,
  m.Drain,
  m.Shutdown,
]);
export type WorkerCommand = z.infer<typeof WorkerCommand>;

export const ClientRequest = z.discriminatedUnion('type', [
  m.DispatchRequest,
  m.StatusRequest,
  m.HistoryRequest,
  m.RolloutRequest,
]);
export type ClientRequest = z.infer<typeof ClientRequest>;

export const Reply = z.discriminatedUnion('type', [
  m.Welcome,
  m.Ack,
  m.DispatchOk,
  m.StatusOk,
  m.HistoryOk,
  m.RolloutOk,
  m.ErrorReply,
]);
export type Reply = z.infer<typeof Reply>;

export const Broadcast = z.discriminatedUnion('type', [m.SupervisorUp]);
export type Broadcast = z.infer<typeof Broadcast>;

export const InspectionEvent = z.discriminatedUnion('type', [m.Inspection]);
export type InspectionEvent = z.infer<typeof InspectionEvent>;

/** Every message, discriminated on `type`. */
export const Message = z.discriminatedUnion('type', [
  ...WorkerEvent.options,
  ...WorkerCommand.options,
  ...ClientRequest.options,
  ...Reply.options,
  ...Broadcast.options,
  ...InspectionEvent.options,
]);
export type Message = z.infer<typeof Message>;
export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
/** A message before the envelope is stamped on it. */
export type MessageBody<T extends MessageType> = Omit<MessageOf<T>, 'v' | 'id' | 'ts' | 'from'>;

export const DIRECTIONS = {
  'worker-event': WorkerEvent,
  'worker-command': WorkerCommand,
  'client-request': ClientRequest,
  reply: Reply,
  broadcast: Broadcast,
  inspection: InspectionEvent,
} as const;
export type Direction = keyof typeof DIRECTIONS;

/** Schema of each message type, by type. */
export const MESSAGE_SCHEMAS = Object.fromEntries(
  Message.options.map((schema) => [schema.shape.type.value, schema]),
) as unknown as { [T in MessageType]: z.ZodObject & z.ZodType<MessageOf<T>> };

export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[];

/** Direction of each message type. */
export const DIRECTION_OF = Object.fromEntries(
  Object.entries(DIRECTIONS).flatMap(([dir, union]) =>
    union.options.map((schema) => [schema.shape.type.value, dir as Direction]),
  ),
) as Record<MessageType, Direction>;

/** Types any protocol version can read: they carry the negotiation itself. */
export const VERSION_INDEPENDENT: ReadonlySet<MessageType> = new Set(['hello', 'error', 'supervisor.up']);

/**
 * The replies each request type can get besides an `error` (which every request can get). A bus
 * request returns one of these, typed by the request; anything else is refused as invalid.
 */
export const REPLIES = {
  hello: ['welcome'],
  'session.start': ['ack'],
  'session.cancel': ['ack'],
  drain: ['ack'],
  shutdown: ['ack'],
  dispatch: ['dispatch.ok'],
  status: ['status.ok'],
  history: ['history.ok'],
  rollout: ['rollout.ok'],
} as const satisfies { [T in MessageType]?: readonly Exclude<Reply['type'], 'error'>[] };
export type RequestType = keyof typeof REPLIES;
/** A message that is sent as a request and answered. */
export type RequestMessage = MessageOf<RequestType>;
/** The reply a request of type `T` gets when it succeeds. */
export type ReplyOf<T extends RequestType> = MessageOf<(typeof REPLIES)[T][number]>;

/** Whether `reply` answers a request of type `request` (an `error` reply always does). */
export function isReplyTo(request: RequestType, reply: Reply): boolean {
  return reply.type === 'error' || (REPLIES[request] as readonly string[]).includes(reply.type);
}
