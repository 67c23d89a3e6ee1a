import type { VAD, voice } from '@livekit/agents';
import type { LocalAudioInput, LocalAudioOutput } from '../../protocol/agent.ts';
import type { ErrorCode } from '../../protocol/common.ts';
import type { AgentDefinition, PoolDefaults } from '../agents/define.ts';
import { type AgentInstance, instantiateAgent } from '../agents/instantiate.ts';
import type { Logger } from '../logger.ts';
import {
  createAgentSession,
  deliverGreeting,
  errorMessage,
  resolveDefinition,
  VoiceSessionError,
  watchAgentSession,
} from './agent-session.ts';
import { ensureAgentsLogger } from './agents-log.ts';
import { LocalAudioSink, LocalAudioSource } from './local-transport.ts';
import { SessionVad, type VadSpeechEvent } from './session-vad.ts';
import { loadSharedVad } from './vad.ts';

export interface SpeechEvent {
  kind: 'start' | 'end';
  /** Position in the session's input audio, in ms. */
  atMs: number;
  /** User utterances started so far in this session (the one that just started or ended included). */
  speechCount: number;
}

/** What a VoiceSession reports while it runs; every callback is optional. */
export interface VoiceSessionEvents {
  /** The input finished (and, in fast mode, the VAD has caught up), or the AgentSession ended itself. */
  transportEnded?(reason?: string): void;
  /** The shared Silero VAD heard the user start or stop speaking. */
  speech?(e: SpeechEvent): void;
  /** The AgentSession failed after it started (it closed itself on an unrecoverable error). */
  error?(e: { code: ErrorCode; message: string }): void;
  /** A message entered the conversation: the greeting, a reply, or the user's transcript. */
  message?(m: { role: string; text: string; interrupted: boolean }): void;
}

export interface VoiceSessionOptions {
  id: string;
  /** The agent: its definition, or the path of its module (imported in prewarm). */
  agent: AgentDefinition | string;
  transport: { kind: 'local'; input: LocalAudioInput; output: LocalAudioOutput };
  events?: VoiceSessionEvents;
  log?: Logger;
  /** Fast input: the longest wait for the VAD to finish the fed audio before `transportEnded` (default 5000). */
  drainMs?: number;
  /** Pool defaults (greeting, provider model strings) for what the agent module leaves unset. */
  defaults?: PoolDefaults;
}

export { VoiceSessionError } from './agent-session.ts';

/** The VAD never infers a final partial window (32 ms at 16 kHz); count the input drained short of it. */
// Silero reports up to ~40 ms less than was fed (measured: 160 of 200 ms, 960 of 1000 ms), so
// allow two 32 ms windows; with one, short inputs waited out the whole drain timeout.
const VAD_TAIL_TOLERANCE_MS = 64;

/**
 * Drives one real voice.AgentSession over the local transport, in the phases the session machine
 * invokes: prewarm → connect → greet → close. Speech events come from the worker's shared Silero
 * VAD, through this session's own stream of it.
 */
export class VoiceSession {
  readonly id: string;
  private readonly events: VoiceSessionEvents;
  private definition: AgentDefinition | undefined;
  private instance: AgentInstance | undefined;
  private ownVad: VAD | undefined;
  private sessionVad: SessionVad | undefined;
  private session: voice.AgentSession | undefined;
  private source: LocalAudioSource | undefined;
  private sink: LocalAudioSink | undefined;
  private connected = false;
  private closing: Promise<void> | undefined;
  private speeches = 0;
  private errors: string[] = [];
  private progressWaiters = new Set<() => void>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly opts: VoiceSessionOptions) {
    this.id = opts.id;
    this.events = opts.events ?? {};
  }

  /** User utterances the VAD has heard start. */
  get speechCount(): number {
    return this.speeches;
  }

  /** Input audio fed to the session so far, in ms. */
  get inputMs(): number {
    return this.source?.fedMs ?? 0;
  }

  /** Agent audio written to the output so far, in ms (0 without a TTS). */
  get outputMs(): number {
    return this.sink?.audioMs ?? 0;
  }

  /** Whether agent speech is audio (a TTS is configured) or text only. */
  get speaksAudio(): boolean {
    return this.instance?.tts !== undefined;
  }

  /** The AgentSession, once prewarmed (for inspection; the phases own its lifecycle). */
  get agentSession(): voice.AgentSession | undefined {
    return this.session;
  }

  /** Loads the agent module if given by path, builds the agent and providers, and takes the shared VAD. */
  async prewarm(): Promise<void> {
    this.assertOpen('prewarm');
    ensureAgentsLogger();
    this.definition ??= await resolveDefinition(this.opts.agent, this.opts.defaults);
    const definition = this.definition;
    if (this.session) return;
    try {
      this.instance = await instantiateAgent(definition);
      const vad = await this.resolveVad(this.instance.vad);
      this.session = this.buildSession(this.instance, vad);
    } catch (err) {
      throw new VoiceSessionError('prewarm_failed', errorMessage(err), { cause: err });
    }
    this.assertOpen('prewarm');
  }

  /** Attaches the local audio I/O and starts the AgentSession; resolves when it runs. */
  async connect(attempt = 1): Promise<void> {
    this.assertOpen('connect');
    if (this.connected) return;
    if (!this.session || !this.instance) {
      await this.prewarm(); // a failed start is rebuilt from scratch
    }
    const session = this.session as voice.AgentSession;
    const { input, output } = this.opts.transport;
    try {
      const vad = this.sessionVad;
      this.source ??= await LocalAudioSource.open(input, vad ? { processedMs: () => vad.processed } : {});
      this.sink ??= new LocalAudioSink(output, { realtime: this.source.realtime });
      session.input.audio = this.source;
      session.output.audio = this.sink;
      // With no TTS, agents-js refuses to say() into an audio output: the agent speaks text only.
      if (!this.speaksAudio) session.output.setAudioEnabled(false);
      await session.start({ agent: (this.instance as AgentInstance).agent, record: false });
    } catch (err) {
      if (this.session === session && !this.connected) {
        this.session = undefined;
        this.instance = undefined;
      }
      throw new VoiceSessionError('connect_failed', `attempt ${attempt}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.assertOpen('connect');
    this.connected = true;
    this.source.start();
    void this.watchInput(this.source);
  }

  /** Says the greeting (or generates it from instructions); resolves once it has been delivered. */
  async greet(): Promise<void> {
    this.assertOpen('greet');
    const greeting = this.definition?.greeting;
    if (!greeting) return;
    const session = this.session;
    if (!session || !this.connected) throw new VoiceSessionError('greet_failed', 'greet before connect');
    await deliverGreeting(session, greeting, { errors: this.errors, hasLlm: Boolean(this.instance?.llm) });
  }

  /** Closes the AgentSession, stops the input, finalizes the output file and frees everything; idempotent. */
  close(reason = 'ended'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: string): Promise<void> {
    for (const wake of this.progressWaiters) wake();
    const session = this.session;
    let failure: unknown;
    try {
      await session?.close();
    } catch (err) {
      failure = err;
    }
    for (const off of this.unsubscribe.splice(0)) off();
    await this.source?.stop();
    try {
      await this.sink?.close();
    } catch (err) {
      failure ??= err;
    }
    await this.ownVad?.close();
    this.opts.log?.debug({ session: this.id, reason, speeches: this.speeches }, 'voice session closed');
    this.session = undefined;
    this.instance = undefined;
    this.sessionVad = undefined;
    this.ownVad = undefined;
    if (failure)
      throw new VoiceSessionError('internal', `close: ${errorMessage(failure)}`, { cause: failure });
  }

  private assertOpen(phase: string): void {
    if (this.closing) throw new VoiceSessionError('internal', `${phase} after close`);
  }

  private async resolveVad(choice: AgentInstance['vad']): Promise<VAD | null> {
    if (choice === null) return null;
    if (this.sessionVad) return this.sessionVad; // a rebuild after a failed start keeps the input's pacing
    const vad = choice === 'shared' ? (await loadSharedVad()).vad : choice;
    if (choice !== 'shared') this.ownVad = vad;
    this.sessionVad = new SessionVad(vad, {
      onSpeech: (e) => this.onSpeech(e),
      onProgress: () => {
        for (const wake of this.progressWaiters) wake();
      },
    });
    return this.sessionVad;
  }

  private buildSession(inst: AgentInstance, vad: VAD | null): voice.AgentSession {
    const session = createAgentSession(inst, vad);
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

  private async watchInput(source: LocalAudioSource): Promise<void> {
    const end = await source.ended;
    if (end !== 'ended' || this.closing) return;
    await this.vadCaughtUp(source);
    if (this.closing) return;
    this.events.transportEnded?.('input_ended');
  }

  /** Waits until the VAD has run on all fed audio, so no speech event trails `transportEnded`. */
  private async vadCaughtUp(source: LocalAudioSource): Promise<void> {
    const vad = this.sessionVad;
    if (!vad) return;
    const deadline = Date.now() + (this.opts.drainMs ?? 5000);
    while (!this.closing && vad.processed < source.fedMs - VAD_TAIL_TOLERANCE_MS && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.progressWaiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(1, deadline - Date.now()));
        this.progressWaiters.add(wake);
      });
    }
  }
}
