import { stat } from 'node:fs/promises';
import { ReadableStream } from 'node:stream/web';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import type { LocalAudioInput, LocalAudioOutput } from '../../protocol/agent.ts';
import { ensureAgentsLogger } from './agents-log.ts';
import { readWavMono16k, VOICE_SAMPLE_RATE, WavFileWriter } from './wav.ts';

export interface LocalSourceOptions {
  /** Frame length in ms (default 20). */
  frameMs?: number;
  /**
   * Fast mode only: how much input audio the consumer has processed, in ms. The source stays at
   * most `maxLeadMs` ahead of it, because agents-js buffers input without bound.
   */
  processedMs?: () => number;
  /** Fast mode only: the most audio to feed beyond `processedMs()` (default 2000 ms). */
  maxLeadMs?: number;
}

export type SourceEnd = 'ended' | 'stopped';

/**
 * Decoded WAVs shared by this process's sources: the samples are only read once decoded, so N
 * sessions on the same file keep one copy, not N (assets/audio/restaurant.wav is 259 KB decoded,
 * which a worker's heap snapshot showed once per live session). Keyed by path, size and mtime, so a
 * changed file is read again; held weakly, so a file is freed with the last source that plays it.
 */
const decoded = new Map<string, WeakRef<Int16Array>>();
const decoding = new Map<string, Promise<Int16Array>>();

async function sharedWav(path: string): Promise<Int16Array> {
  const file = await stat(path).catch(() => undefined);
  if (!file) return readWavMono16k(path); // its error names the file
  const key = `${path}\0${file.size}\0${file.mtimeMs}`;
  const hit = decoded.get(key)?.deref();
  if (hit) return hit;
  let pending = decoding.get(key);
  if (!pending) {
    pending = readWavMono16k(path).finally(() => decoding.delete(key));
    decoding.set(key, pending);
    const samples = await pending;
    for (const [k, ref] of decoded) if (!ref.deref()) decoded.delete(k);
    decoded.set(key, new WeakRef(samples));
    return samples;
  }
  return pending;
}

/**
 * Audio input for an AgentSession from a WAV file or silence: 16 kHz mono frames, paced at real
 * time (or as fast as the consumer takes them), `loops` times over, then "ended".
 */
export class LocalAudioSource extends voice.AudioInput {
  readonly frameSamples: number;
  readonly totalSamples: number;
  private fed = 0;
  private started = false;
  private stopped = false;
  private resolveEnded!: (end: SourceEnd) => void;
  /** Resolves once the last frame was handed to the session ('ended'), or on `stop()`. */
  readonly ended: Promise<SourceEnd> = new Promise((resolve) => {
    this.resolveEnded = resolve;
  });

  private constructor(
    private readonly samples: Int16Array | undefined,
    totalSamples: number,
    readonly realtime: boolean,
    private readonly opts: LocalSourceOptions,
  ) {
    ensureAgentsLogger();
    super();
    this.frameSamples = Math.round(((opts.frameMs ?? 20) * VOICE_SAMPLE_RATE) / 1000);
    this.totalSamples = totalSamples;
  }

  /** Opens the input a session's transport names: reads and converts the WAV up front (shared). */
  static async open(spec: LocalAudioInput, opts: LocalSourceOptions = {}): Promise<LocalAudioSource> {
    if (spec.kind === 'silence') {
      const total = Math.round((spec.durationMs * VOICE_SAMPLE_RATE) / 1000);
      return new LocalAudioSource(undefined, total, true, opts);
    }
    const samples = await sharedWav(spec.path);
    return new LocalAudioSource(samples, samples.length * (spec.loops ?? 1), spec.realtime ?? true, opts);
  }

  /** Audio handed to the session so far, in ms. */
  get fedMs(): number {
    return (this.fed * 1000) / VOICE_SAMPLE_RATE;
  }

  get durationMs(): number {
    return (this.totalSamples * 1000) / VOICE_SAMPLE_RATE;
  }

  /** Starts feeding frames into the session's input stream; idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const startedAt = performance.now();
    let sinceYield = 0;
    const frames = new ReadableStream<AudioFrame>(
      {
        pull: async (controller) => {
          if (!this.stopped && this.fed < this.totalSamples) {
            if (this.realtime) {
              const due = startedAt + this.fedMs;
              const wait = due - performance.now();
              if (wait > 1) await new Promise((r) => setTimeout(r, wait));
            } else {
              await this.keepPace();
              if (++sinceYield >= 10) {
                sinceYield = 0;
                await yieldToLoop(); // never hold the event loop for a whole file
              }
            }
          }
          if (this.stopped || this.fed >= this.totalSamples) {
            controller.close();
            this.resolveEnded(this.stopped ? 'stopped' : 'ended');
            return;
          }
          controller.enqueue(this.nextFrame());
        },
        cancel: () => {
          this.resolveEnded('stopped');
        },
      },
      { highWaterMark: 0 },
    );
    this.multiStream.addInputStream(frames);
  }

  /** Stops feeding and closes the input; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resolveEnded('stopped');
    await this.close();
  }

  private nextFrame(): AudioFrame {
    const n = Math.min(this.frameSamples, this.totalSamples - this.fed);
    const data = new Int16Array(n);
    if (this.samples) {
      let at = this.fed % this.samples.length;
      for (let i = 0; i < n; i++) {
        data[i] = this.samples[at] as number;
        at = at + 1 === this.samples.length ? 0 : at + 1;
      }
    }
    this.fed += n;
    return new AudioFrame(data, VOICE_SAMPLE_RATE, 1, n);
  }

  private async keepPace(): Promise<void> {
    const processed = this.opts.processedMs;
    if (!processed) return;
    const lead = this.opts.maxLeadMs ?? 2000;
    while (!this.stopped && this.fedMs - processed() > lead) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

export interface LocalSinkOptions {
  /** Report playback finished after the audio's duration (true), or as soon as a segment is flushed. */
  realtime?: boolean;
  /** Ask agents-js to resample agent audio to this rate before it reaches the sink. */
  sampleRate?: number;
}

interface Playout {
  ms: number;
  startsAt: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Audio output for an AgentSession: writes the agent's audio to a WAV file (segments back to back)
 * or discards it. There is no speaker, so playout is simulated: a flushed segment "plays" for its
 * duration in real-time mode, or finishes at once; `clearBuffer()` interrupts what is playing.
 */
export class LocalAudioSink extends voice.AudioOutput {
  private readonly writer: WavFileWriter | undefined;
  private readonly realtime: boolean;
  private segmentMs = 0;
  private segmentStartedAt = 0;
  private playing: Playout[] = [];
  private capturedMs = 0;
  private pausedAt: number | undefined;
  private writeError: Error | undefined;

  constructor(spec: LocalAudioOutput, opts: LocalSinkOptions = {}) {
    ensureAgentsLogger(); // agents-js's AudioOutput takes its logger when constructed
    super(opts.sampleRate, undefined, { pause: true });
    this.realtime = opts.realtime ?? true;
    this.writer = spec.kind === 'wav' ? new WavFileWriter(spec.path) : undefined;
  }

  /** Agent audio captured so far, in ms. */
  get audioMs(): number {
    return this.capturedMs;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    await super.captureFrame(frame);
    if (this.segmentMs === 0) {
      const last = this.playing.at(-1);
      this.segmentStartedAt = Math.max(Date.now(), last ? last.startsAt + last.ms : 0);
      this.onPlaybackStarted(Date.now());
    }
    const ms = (frame.samplesPerChannel / frame.sampleRate) * 1000;
    this.segmentMs += ms;
    this.capturedMs += ms;
    if (this.writer && !this.writeError) {
      const samples = frame.data.subarray(0, frame.samplesPerChannel * frame.channels);
      await this.writer.write(samples, frame.sampleRate, frame.channels).catch((err: Error) => {
        this.writeError = err; // keep the conversation going; close() reports it
      });
    }
  }

  override flush(): void {
    super.flush();
    if (this.segmentMs === 0) return;
    const playout: Playout = { ms: this.segmentMs, startsAt: this.segmentStartedAt, timer: undefined };
    this.segmentMs = 0;
    this.playing.push(playout);
    this.schedule(playout);
  }

  private schedule(playout: Playout): void {
    if (this.pausedAt !== undefined) return; // resume() schedules it
    const finish = () => {
      this.playing = this.playing.filter((p) => p !== playout);
      this.onPlaybackFinished({ playbackPosition: playout.ms / 1000, interrupted: false });
    };
    const delay = this.realtime ? playout.startsAt + playout.ms - Date.now() : 0;
    playout.timer = setTimeout(finish, Math.max(0, delay));
  }

  /** Holds playout (agents-js pauses on a possibly false interruption). */
  override pause(): void {
    if (this.pausedAt !== undefined) return;
    this.pausedAt = Date.now();
    for (const p of this.playing) clearTimeout(p.timer);
  }

  override resume(): void {
    if (this.pausedAt === undefined) return;
    const pausedFor = Date.now() - this.pausedAt;
    this.pausedAt = undefined;
    for (const p of this.playing) {
      p.startsAt += pausedFor;
      this.schedule(p);
    }
  }

  override clearBuffer(): void {
    if (this.segmentMs > 0) {
      // Interrupted while still capturing: the segment ends here, never flushed.
      this.playing.push({ ms: this.segmentMs, startsAt: this.segmentStartedAt, timer: undefined });
      this.segmentMs = 0;
      this.abandonOpenSegment();
    }
    const now = this.pausedAt ?? Date.now();
    this.pausedAt = undefined;
    for (const p of this.playing.splice(0)) {
      clearTimeout(p.timer);
      const played = this.realtime ? Math.min(Math.max(0, now - p.startsAt), p.ms) : p.ms;
      this.onPlaybackFinished({ playbackPosition: played / 1000, interrupted: true });
    }
  }

  /** Interrupts any playout and finalizes the WAV file; throws if writing it failed. */
  async close(): Promise<void> {
    this.clearBuffer();
    await this.writer?.close();
    if (this.writeError) throw this.writeError;
  }
}
