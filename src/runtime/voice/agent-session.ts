import { type VAD, voice } from '@livekit/agents';
import type { Greeting } from '../../protocol/agent.ts';
import type { ErrorCode } from '../../protocol/common.ts';
import { toErrorData } from '../../protocol/errors.ts';
import { type AgentDefinition, type PoolDefaults, withDefaults } from '../agents/define.ts';
import type { AgentInstance } from '../agents/instantiate.ts';
import { loadAgentModule, loadedAgent } from '../agents/load.ts';
import type { Logger } from '../logger.ts';
import type { VoiceSessionEvents } from './events.ts';

/** A phase of a VoiceSession failed; `code` is the protocol's error code for it. */
export class VoiceSessionError extends Error {
  override name = 'VoiceSessionError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** agents-js error events wrap the Error (`{type, error}`), except interruption errors, which are one. */
export const agentError = (e: voice.ErrorEvent['error']) =>
  `${e.type}: ${toErrorData('error' in e ? e.error : e).message}`;

/** A voice.AgentSession of an agent instance and its VAD (any transport: local or a LiveKit room). */
export function createAgentSession(inst: AgentInstance, vad: VAD | null): voice.AgentSession {
  const extras = inst.session;
  const turnSet = extras.turnHandling?.turnDetection !== undefined || extras.turnDetection !== undefined;
  return new voice.AgentSession({
    ...extras,
    // agents-js defaults to an inference turn detector that needs LiveKit Cloud; offline, the VAD decides.
    ...(vad && !turnSet ? { turnHandling: { ...extras.turnHandling, turnDetection: 'vad' as const } } : {}),
    ...(inst.stt !== undefined ? { stt: inst.stt } : {}),
    ...(inst.llm !== undefined ? { llm: inst.llm } : {}),
    ...(inst.tts !== undefined ? { tts: inst.tts } : {}),
    vad,
  });
}

export interface WatchOptions {
  id: string;
  log?: Logger;
  events: VoiceSessionEvents;
  /** Error texts seen so far; a phase can check what was added while it ran. */
  errors: string[];
  /** True while closing, or before the session started: a close then is not news. */
  ended: () => boolean;
}

/**
 * Turns an AgentSession's events into a session's reports: errors are kept and logged, a close
 * the runtime did not ask for becomes `error` or `transportEnded`, and conversation messages are
 * passed on. Returns the function that detaches the listeners. Local and LiveKit sessions share it.
 */
export function watchAgentSession(session: voice.AgentSession, o: WatchOptions): () => void {
  const E = voice.AgentSessionEventTypes;
  const onError = (ev: voice.ErrorEvent) => {
    const message = agentError(ev.error);
    o.errors.push(message);
    o.log?.warn({ session: o.id, recoverable: ev.error.recoverable, err: message }, 'agent error');
  };
  const onClose = (ev: voice.CloseEvent) => {
    if (o.ended()) return; // a failed start rejects connect() instead
    if (ev.error || ev.reason === voice.CloseReason.ERROR) {
      const detail = ev.error ? agentError(ev.error) : o.errors.at(-1);
      o.events.error?.({ code: 'session_error', message: detail ?? 'AgentSession closed on an error' });
    } else {
      o.events.transportEnded?.(`agent_session_closed:${ev.reason}`);
    }
  };
  const onItem = (ev: voice.ConversationItemAddedEvent) => {
    const item = ev.item;
    if (item.type !== 'message') return;
    o.events.message?.({ role: item.role, text: item.textContent ?? '', interrupted: item.interrupted });
  };
  session.on(E.Error, onError);
  session.on(E.Close, onClose);
  session.on(E.ConversationItemAdded, onItem);
  return () => {
    session.off(E.Error, onError);
    session.off(E.Close, onClose);
    session.off(E.ConversationItemAdded, onItem);
  };
}

/**
 * Says the greeting (or generates it from instructions) and resolves once it has been delivered;
 * rejects with `greet_failed` when it cannot be said or agents-js reported an error meanwhile.
 */
export async function deliverGreeting(
  session: voice.AgentSession,
  greeting: Greeting,
  o: { errors: string[]; hasLlm: boolean },
): Promise<void> {
  if ('instructions' in greeting && !o.hasLlm) {
    throw new VoiceSessionError('greet_failed', 'greeting.instructions needs an llm provider');
  }
  const errorsBefore = o.errors.length;
  let handle: voice.SpeechHandle;
  try {
    handle =
      'say' in greeting
        ? session.say(greeting.say)
        : session.generateReply({ instructions: greeting.instructions });
  } catch (err) {
    throw new VoiceSessionError('greet_failed', toErrorData(err).message, { cause: err });
  }
  await handle.waitForPlayout();
  const failed = o.errors.slice(errorsBefore);
  if (failed.length > 0) throw new VoiceSessionError('greet_failed', failed.join('; '));
}

/** The agent's definition (imported when given by path) with pool defaults; `agent_import_failed` if it cannot be had. */
export async function resolveDefinition(
  agent: AgentDefinition | string,
  defaults: PoolDefaults | undefined,
): Promise<AgentDefinition> {
  try {
    // A worker loads every agent module at prewarm: a session takes that one, instead of importing
    // it again (cached by Node, yet resolved, stat'ed and checked again: a few ms on every dispatch).
    const def =
      typeof agent === 'string' ? (loadedAgent(agent) ?? (await loadAgentModule(agent))).definition : agent;
    return withDefaults(def, defaults);
  } catch (err) {
    throw new VoiceSessionError('agent_import_failed', toErrorData(err).message, { cause: err });
  }
}
