import type { voice } from '@livekit/agents';
import type { LocalAudioInput, LocalAudioOutput } from '../../protocol/agent.ts';
import type { AgentInstance } from '../agents/instantiate.ts';
import { LocalAudioSink, LocalAudioSource } from './local-transport.ts';
import type { SessionTransport, TransportHost } from './session-transport.ts';

export interface LocalSessionTransportOptions {
  input: LocalAudioInput;
  output: LocalAudioOutput;
  /** Fast input: the longest wait for the VAD to finish the fed audio before the transport ends (default 5000). */
  drainMs?: number;
}

/** The VAD never infers a final partial window (32 ms at 16 kHz); count the input drained short of it. */
// Silero reports up to ~40 ms less than was fed (measured: 160 of 200 ms, 960 of 1000 ms), so
// allow two 32 ms windows; with one, short inputs waited out the whole drain timeout.
const VAD_TAIL_TOLERANCE_MS = 64;

/**
 * The local transport, like LiveKit's console mode: audio in from a WAV file or silence, audio out
 * to a WAV file or discarded. It ends when the input has been fed and the VAD has caught up.
 */
export class LocalSessionTransport implements SessionTransport {
  readonly kind = 'local';
  private host: TransportHost | undefined;
  private source: LocalAudioSource | undefined;
  private sink: LocalAudioSink | undefined;
  private readonly progressWaiters = new Set<() => void>();

  constructor(private readonly opts: LocalSessionTransportOptions) {}

  /** Input audio fed to the session so far, in ms. */
  get inputMs(): number {
    return this.source?.fedMs ?? 0;
  }

  /** Agent audio written to the output so far, in ms (0 without a TTS). */
  get outputMs(): number {
    return this.sink?.audioMs ?? 0;
  }

  bind(host: TransportHost): void {
    if (this.host) throw new Error('a transport serves one session');
    this.host = host;
  }

  async prepare(): Promise<void> {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async open(): Promise<void> {
    const vad = this.bound().vad;
    this.source ??= await LocalAudioSource.open(
      this.opts.input,
      vad ? { processedMs: () => vad.processed } : {},
    );
    this.sink ??= new LocalAudioSink(this.opts.output, { realtime: this.source.realtime });
  }

  async start(session: voice.AgentSession, instance: AgentInstance): Promise<void> {
    if (!this.source || !this.sink) throw new Error('start before open');
    session.input.audio = this.source;
    session.output.audio = this.sink;
    // With no TTS, agents-js refuses to say() into an audio output: the agent speaks text only.
    if (instance.tts === undefined) session.output.setAudioEnabled(false);
    await session.start({ agent: instance.agent, record: false });
  }

  watch(): () => void {
    const source = this.source;
    if (!source) throw new Error('watch before open');
    source.start();
    void this.watchInput(source);
    return () => {};
  }

  vadProgress(): void {
    for (const wake of this.progressWaiters) wake();
  }

  async close(): Promise<void> {
    this.vadProgress(); // a pending drain wait ends now
    await this.source?.stop();
    await this.sink?.close();
  }

  private bound(): TransportHost {
    if (!this.host) throw new Error('the transport is not bound to a session');
    return this.host;
  }

  private async watchInput(source: LocalAudioSource): Promise<void> {
    const host = this.bound();
    const end = await source.ended;
    if (end !== 'ended' || host.closing) return;
    await this.vadCaughtUp(source, host);
    if (host.closing) return;
    host.ended('input_ended');
  }

  /** Waits until the VAD has run on all fed audio, so no speech event trails the transport's end. */
  private async vadCaughtUp(source: LocalAudioSource, host: TransportHost): Promise<void> {
    const vad = host.vad;
    if (!vad) return;
    const deadline = Date.now() + (this.opts.drainMs ?? 5000);
    while (!host.closing && vad.processed < source.fedMs - VAD_TAIL_TOLERANCE_MS && Date.now() < deadline) {
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
