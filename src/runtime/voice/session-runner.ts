import type { VAD, voice } from '@livekit/agents';
import { toErrorData } from '../../protocol/errors.ts';
import type { AgentDefinition, PoolDefaults } from '../agents/define.ts';
import { type AgentInstance, instantiateAgent } from '../agents/instantiate.ts';
import type { Logger } from '../logger.ts';
import {
  createAgentSession,
  deliverGreeting,
  resolveDefinition,
  VoiceSessionError,
  watchAgentSession,
} from './agent-session.ts';
import { ensureAgentsLogger } from './agents-log.ts';
import type { VoiceSessionEvents } from './events.ts';
import type { SessionTransport, TransportHost } from './session-transport.ts';
import { SessionVad, type VadSpeechEvent } from './session-vad.ts';
import { loadSharedVad } from './vad.ts';

export { VoiceSessionError } from './agent-session.ts';
export type { SpeechEvent, VoiceSessionEvents } from './events.ts';

export interface VoiceSessionOptions {
  id: string;
  /** The agent: its definition, or the path of its module (imported in prewarm). */
  agent: AgentDefinition | string;
  /** Where the audio comes from and goes to: a LocalSessionTransport or a RoomSessionTransport. */
  transport: SessionTransport;
  events?: VoiceSessionEvents;
  log?: Logger;
  /** Pool defaults (greeting, provider model strings) for what the agent module leaves unset. */
  defaults?: PoolDefaults;
}

/**
 * The one session driver: drives one real voice.AgentSession in the phases the session machine
 * invokes, prewarm → connect → greet → close, over a transport (local audio or a LiveKit room)
 * given as a strategy. Speech events come from the worker's shared Silero VAD, through this
 * session's own stream of it.
 */
export class VoiceSession {
  readonly id: string;
  private readonly events: VoiceSessionEvents;
  private readonly transport: SessionTransport;
  private definition: AgentDefinition | undefined;
  private instance: AgentInstance | undefined;
  private ownVad: VAD | undefined;
  private sessionVad: SessionVad | undefined;
  private session: voice.AgentSession | undefined;
  private connected = false;
  private closing: Promise<void> | undefined;
  private speeches = 0;
  private errors: string[] = [];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly opts: VoiceSessionOptions) {
    this.id = opts.id;
    this.events = opts.events ?? {};
    this.transport = opts.transport;
    const self = this;
    const host: TransportHost = {
      id: opts.id,
      log: opts.log,
      get closing() {
        return self.closing !== undefined;
      },
      get vad() {
        return self.sessionVad;
      },
      ended: (reason) => this.events.transportEnded?.(reason),
    };
    this.transport.bind(host);
  }

  /** User utterances the VAD has heard start. */
  get speechCount(): number {
    return this.speeches;
  }

  /** Whether agent speech is audio (a TTS is configured) or text only. */
  get speaksAudio(): boolean {
    return this.instance?.tts !== undefined;
  }

  /** The AgentSession, once prewarmed (for inspection; the phases own its lifecycle). */
  get agentSession(): voice.AgentSession | undefined {
    return this.session;
  }

  /**
   * Loads the agent module if given by path, prepares the transport, and (unless the transport
   * builds after its open) builds the agent and providers in its context and takes the VAD.
   */
  async prewarm(): Promise<void> {
    this.assertOpen('prewarm');
    ensureAgentsLogger();
    this.definition ??= await resolveDefinition(this.opts.agent, this.opts.defaults);
    const definition = this.definition;
    if (this.session) return;
    try {
      await this.transport.prepare();
      if (!this.transport.buildsAfterOpen) await this.build(definition);
    } catch (err) {
      throw new VoiceSessionError('prewarm_failed', toErrorData(err).message, { cause: err });
    }
    this.assertOpen('prewarm');
  }

  /** Opens the transport (local audio, or the room) and starts the AgentSession on it; resolves when it runs. */
  async connect(attempt = 1): Promise<void> {
    this.assertOpen('connect');
    if (this.connected) return;
    if (!this.session || !this.instance) await this.prewarm(); // a failed start is rebuilt from scratch
    try {
      await this.transport.open();
      this.assertOpen('connect');
      if (!this.session) await this.build(this.definition as AgentDefinition);
    } catch (err) {
      if (err instanceof VoiceSessionError) throw err;
      throw connectFailed(attempt, err);
    }
    const session = this.session as voice.AgentSession;
    const instance = this.instance as AgentInstance;
    this.assertOpen('connect');
    try {
      await this.transport.run(() => this.transport.start(session, instance));
    } catch (err) {
      if (this.session === session && !this.connected) {
        this.session = undefined; // the transport stays open: the next attempt reuses it
        this.instance = undefined;
      }
      throw connectFailed(attempt, err);
    }
    this.assertOpen('connect');
    this.connected = true;
    this.unsubscribe.push(this.transport.watch());
  }

  /** Says the greeting (or generates it from instructions); resolves once it has been delivered. */
  async greet(): Promise<void> {
    this.assertOpen('greet');
    const greeting = this.definition?.greeting;
    if (!greeting) return;
    const session = this.session;
    if (!session || !this.connected) throw new VoiceSessionError('greet_failed', 'greet before connect');
    const hasLlm = Boolean(this.instance?.llm);
    await this.transport.run(() => deliverGreeting(session, greeting, { errors: this.errors, hasLlm }));
  }

  /** Closes the AgentSession, then the transport (input, output, room), and frees everything; idempotent. */
  close(reason = 'ended'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: string): Promise<void> {
    let failure: unknown;
    try {
      await this.session?.close();
    } catch (err) {
      failure = err;
    }
    for (const off of this.unsubscribe.splice(0)) off();
    try {
      await this.transport.close({
        sessionClosed: failure === undefined,
        onSessionEnd: this.definition?.onSessionEnd,
      });
    } catch (err) {
      failure ??= err;
    }
    await this.ownVad?.close();
    this.opts.log?.debug(
      { session: this.id, transport: this.transport.kind, reason, speeches: this.speeches },
      'voice session closed',
    );
    this.session = undefined;
    this.instance = undefined;
    this.sessionVad = undefined;
    this.ownVad = undefined;
    if (failure) {
      throw new VoiceSessionError('internal', `close: ${toErrorData(failure).message}`, { cause: failure });
    }
  }

  /** Builds the agent and providers in the transport's context, takes the VAD, and makes the AgentSession. */
  private async build(definition: AgentDefinition): Promise<void> {
    this.instance = await this.transport.run(() => instantiateAgent(definition));
    const vad = await this.resolveVad(this.instance.vad);
    this.session = this.buildSession(vad);
  }

  private assertOpen(phase: string): void {
    if (this.closing) throw new VoiceSessionError('internal', `${phase} after close`);
  }

  private async resolveVad(choice: AgentInstance['vad']): Promise<VAD | null> {
    if (choice === null) return null;
    if (this.sessionVad) return this.sessionVad; // a rebuild after a failed start keeps the input's pacing
    const vad = choice === 'shared' ? (await loadSharedVad()).vad : choice;
    if (choice !== 'shared') this.ownVad = vad; // made by the agent's factory for this session
    this.sessionVad = new SessionVad(vad, {
      onSpeech: (e) => this.onSpeech(e),
      onProgress: () => this.transport.vadProgress?.(),
    });
    return this.sessionVad;
  }

  private buildSession(vad: VAD | null): voice.AgentSession {
    const session = createAgentSession(this.instance as AgentInstance, vad);
    this.unsubscribe.push(
      watchAgentSession(session, {
        id: this.id,
        ...(this.opts.log ? { log: this.opts.log } : {}),
        events: this.events,
        errors: this.errors,
        ended: () => Boolean(this.closing) || !this.connected,
      }),
    );
    return session;
  }

  private onSpeech(e: VadSpeechEvent): void {
    if (this.closing) return;
    if (e.kind === 'start') this.speeches += 1;
    this.events.speech?.({ kind: e.kind, atMs: e.atMs, speechCount: this.speeches });
  }
}

function connectFailed(attempt: number, err: unknown): VoiceSessionError {
  return new VoiceSessionError('connect_failed', `attempt ${attempt}: ${toErrorData(err).message}`, {
    cause: err,
  });
}
