import { ExpFilter, VAD, VADEventType, VADStream } from '@livekit/agents';
import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { SampleQueue, SpeechBuffer } from './sample-queue.ts';
import {
  SILERO_BATCHER_DEFAULTS,
  SileroBatcher,
  type SileroBatcherStats,
  type SileroFiles,
  type SileroRow,
  type SileroSampleRate,
  type SileroThread,
} from './silero-batcher.ts';
import { SILERO_DEFAULTS } from './silero-defaults.ts';

/** The plugin's options, with the same meaning (its `VADOptions` type is not exported). */
export interface BatchedVadDecisionOptions {
  /** Speech above the threshold for this long (ms) starts an utterance. */
  minSpeechDuration: number;
  /** Silence for longer than this (ms) ends it. */
  minSilenceDuration: number;
  /** Audio kept before the start of speech, in ms (in START/END_OF_SPEECH frames). */
  prefixPaddingDuration: number;
  /** The longest utterance kept for END_OF_SPEECH frames, in ms. */
  maxBufferedSpeech: number;
  /** A window whose smoothed probability is above this is speech. */
  activationThreshold: number;
  /** The model's rate: 16000 (512-sample windows) or 8000 (256). Input at other rates is resampled. */
  sampleRate: SileroSampleRate;
}

export interface BatchedVadOptions extends BatchedVadDecisionOptions {
  forceCPU: boolean;
  /** Where `session.run` executes: a worker thread (default) or the event loop's thread. */
  thread: SileroThread;
  /** The most windows in one `session.run`. */
  maxBatch: number;
}

/** The plugin's defaults (silero-defaults.ts), and ours for batching. */
export const BATCHED_VAD_DEFAULTS: BatchedVadOptions = {
  ...SILERO_DEFAULTS,
  ...SILERO_BATCHER_DEFAULTS,
};

/** The plugin warns when a stream falls this far (ms) behind real time. */
const SLOW_INFERENCE_THRESHOLD_MS = 200;
/** We repeat that warning at most this often per stream (the plugin repeats it every window). */
const SLOW_WARNING_INTERVAL_MS = 5000;

/** Samples scaled to [-1, 1] as the plugin scales them (x / 32767), so the model sees the same input. */
function toFloat(window: Int16Array): Float32Array {
  const out = new Float32Array(window.length);
  for (let i = 0; i < window.length; i++) out[i] = (window[i] as number) / 32767;
  return out;
}

/**
 * A Silero VAD whose streams share batched inference: each stream keeps its own model state and
 * decisions, and every window pending when the batcher flushes goes into one `session.run` (see
 * silero-batcher.ts). Streams decide and emit exactly as @livekit/agents-plugin-silero's do.
 * The VAD keeps no list of its streams: a closed stream is garbage once its consumer lets go.
 * Options are fixed at load (streams take `updateOptions` one by one).
 */
export class BatchedSileroVad extends VAD {
  label = 'silero.BatchedVAD';

  private constructor(
    private readonly batcher: SileroBatcher,
    private readonly opts: BatchedVadOptions,
  ) {
    super({ updateInterval: 32 });
  }

  static async load(opts: Partial<BatchedVadOptions> = {}, files?: SileroFiles): Promise<BatchedSileroVad> {
    const merged: BatchedVadOptions = { ...BATCHED_VAD_DEFAULTS, ...opts };
    return BatchedSileroVad.on(await SileroBatcher.load(merged, files), merged);
  }

  /** A VAD on a batcher loaded with the same options (vad.ts starts one before it imports this module). */
  static on(batcher: SileroBatcher, opts: BatchedVadOptions): BatchedSileroVad {
    return new BatchedSileroVad(batcher, opts);
  }

  override get minSilenceDuration(): number {
    return this.opts.minSilenceDuration;
  }

  get options(): Readonly<BatchedVadOptions> {
    return this.opts;
  }

  /** Runs, windows and batch sizes so far. */
  stats(): SileroBatcherStats {
    return this.batcher.stats();
  }

  stream(): BatchedVadStream {
    return new BatchedVadStream(this, this.opts, this.batcher.row(), this.batcher.windowSize);
  }

  override async close(): Promise<void> {
    await this.batcher.close();
  }
}

/** One channel of interleaved samples (the plugin reads input as mono; take the first channel). */
function mono(frame: AudioFrame): Int16Array {
  if (frame.channels <= 1) return frame.data.subarray(0, frame.samplesPerChannel);
  const out = new Int16Array(frame.samplesPerChannel);
  for (let i = 0; i < out.length; i++) out[i] = frame.data[i * frame.channels] as number;
  return out;
}

/**
 * One stream of the batched VAD. The decision logic is the plugin's (VADStream in
 * @livekit/agents-plugin-silero 1.9): smoothed probability (exponential filter, alpha 0.35), start
 * after `minSpeechDuration` above the threshold, end after more than `minSilenceDuration` below,
 * INFERENCE_DONE for every window, the same durations, timestamps and sample indices. What differs:
 *  - inference: the window joins the shared batch instead of running alone;
 *  - memory: input is queued as it arrived (the plugin merges every pending frame per window), and
 *    the speech frames are the current utterance's only, grown as it goes (the plugin allocates
 *    `maxBufferedSpeech` + padding, 1.9 MB at 16 kHz, per stream up front);
 *  - START/END_OF_SPEECH frames are copies (the plugin's are views its next utterance overwrites);
 *  - `inferenceDuration` counts the time the window waited for its batch.
 */
export class BatchedVadStream extends VADStream {
  private opts: BatchedVadDecisionOptions;
  private inputRate = 0;
  private prefixPaddingSamples = 0;
  private readonly speech = new SpeechBuffer(0);
  private speechFull = false;
  private expFilter = new ExpFilter(0.35);
  private extraInferenceTime = 0;
  private lastSlowWarning = Number.NEGATIVE_INFINITY;
  private resampler: AudioResampler | null = null;

  constructor(
    vad: VAD,
    opts: BatchedVadDecisionOptions,
    private readonly row: SileroRow,
    private readonly windowSize: number,
  ) {
    super(vad);
    this.opts = { ...opts };
    this.run()
      .catch((err) => {
        if (this.closed) return; // a window still out when the stream closed, then the VAD
        this.logger.error(err, 'Error in VAD inference task');
        this.close();
      })
      .finally(() => this.resampler?.close());
  }

  /** Updates this stream's options (as the plugin's `VADStream.updateOptions`). */
  updateOptions(opts: Partial<BatchedVadDecisionOptions>): void {
    const oldMax = this.opts.maxBufferedSpeech;
    this.opts = { ...this.opts, ...opts, sampleRate: this.opts.sampleRate };
    if (this.inputRate) {
      this.sizeSpeechBuffer();
      if (this.opts.maxBufferedSpeech > oldMax) this.speechFull = false;
    }
  }

  private sizeSpeechBuffer(): void {
    this.prefixPaddingSamples = Math.trunc((this.opts.prefixPaddingDuration * this.inputRate) / 1000);
    this.speech.capacity =
      Math.trunc((this.opts.maxBufferedSpeech * this.inputRate) / 1000) + this.prefixPaddingSamples;
  }

  /** Input samples this stream holds for its speech frames (prefix padding, then the utterance). */
  get retainedSamples(): number {
    return this.speech.length;
  }

  private speechFrame(): AudioFrame {
    const data = this.speech.copy();
    return new AudioFrame(data, this.inputRate, 1, data.length);
  }

  /** Keeps only the prefix padding (the plugin's write-cursor reset). */
  private trimSpeech(): void {
    if (this.speech.length <= this.prefixPaddingSamples) return;
    this.speech.keepLast(this.prefixPaddingSamples);
    this.speechFull = false;
  }

  private async run(): Promise<void> {
    const { windowSize } = this;
    const sampleRate = this.opts.sampleRate;
    const windowDuration = (windowSize / sampleRate) * 1000;
    const input = new SampleQueue(); // at the input rate: the frames events carry
    const inference = new SampleQueue(); // at the model's rate
    let pubSpeaking = false;
    let pubSpeechDuration = 0;
    let pubSilenceDuration = 0;
    let pubCurrentSample = 0;
    let pubTimestamp = 0;
    let speechThresholdDuration = 0;
    let silenceThresholdDuration = 0;
    let inputCopyRemainingFrac = 0;

    const newResampler = () => {
      this.resampler?.close();
      this.resampler =
        this.inputRate && this.inputRate !== sampleRate
          ? new AudioResampler(this.inputRate, sampleRate, 1, AudioResamplerQuality.QUICK)
          : null;
    };
    const resetState = () => {
      this.row.reset();
      this.expFilter = new ExpFilter(0.35);
      this.speech.clear();
      this.speechFull = false;
      pubSpeaking = false;
      pubSpeechDuration = 0;
      pubSilenceDuration = 0;
      pubCurrentSample = 0;
      pubTimestamp = 0;
      speechThresholdDuration = 0;
      silenceThresholdDuration = 0;
      input.clear();
      inference.clear();
      inputCopyRemainingFrac = 0;
      this.extraInferenceTime = 0;
      newResampler();
    };

    while (!this.closed) {
      const { done, value: frame } = await this.inputReader.read();
      if (done) break;
      if (typeof frame === 'symbol') {
        resetState(); // flush(): a hard segment boundary
        continue;
      }
      if (!this.inputRate) {
        this.inputRate = frame.sampleRate;
        this.sizeSpeechBuffer();
        newResampler();
      } else if (frame.sampleRate !== this.inputRate) {
        this.logger.error('a frame with a different sample rate was already published');
        continue;
      }
      const samples = mono(frame);
      input.push(samples);
      if (this.resampler) {
        const single = new AudioFrame(samples, this.inputRate, 1, samples.length);
        for (const out of this.resampler.push(single)) inference.push(mono(out));
      } else {
        inference.push(samples);
      }

      while (!this.closed && inference.length >= windowSize) {
        const startTime = process.hrtime.bigint();
        const window = inference.take(windowSize);
        const raw = await this.row.infer(toFloat(window));
        if (this.closed) break;
        const p = this.expFilter.apply(1, raw);
        pubCurrentSample += windowSize;
        pubTimestamp += windowDuration;

        const toCopy = windowSize * (this.inputRate / sampleRate) + inputCopyRemainingFrac;
        const toCopyInt = Math.trunc(toCopy);
        inputCopyRemainingFrac = toCopy - toCopyInt;
        const windowInput = input.take(toCopyInt);
        if (this.speech.push(windowInput) === 0 && windowInput.length > 0 && !this.speechFull) {
          this.speechFull = true;
          this.logger.warn('maxBufferedSpeech reached, ignoring further data for the current speech input');
        }

        const inferenceDuration = Number((process.hrtime.bigint() - startTime) / BigInt(1e6));
        this.extraInferenceTime = Math.max(0, this.extraInferenceTime + inferenceDuration - windowDuration);
        if (this.extraInferenceTime > SLOW_INFERENCE_THRESHOLD_MS) {
          const now = performance.now();
          if (now - this.lastSlowWarning >= SLOW_WARNING_INTERVAL_MS) {
            this.lastSlowWarning = now;
            this.logger
              .child({ delay: this.extraInferenceTime })
              .warn('VAD inference is slower than realtime');
          }
        }

        if (pubSpeaking) pubSpeechDuration += windowDuration;
        else pubSilenceDuration += windowDuration;

        /** The event for this window, with the published counters as they stand now. */
        const event = (type: VADEventType, frame: AudioFrame, raw: { silence: number; speech: number }) => ({
          type,
          samplesIndex: pubCurrentSample,
          timestamp: pubTimestamp,
          silenceDuration: pubSilenceDuration,
          speechDuration: pubSpeechDuration,
          probability: p,
          inferenceDuration,
          frames: [frame],
          speaking: pubSpeaking,
          rawAccumulatedSilence: raw.silence,
          rawAccumulatedSpeech: raw.speech,
        });
        const windowFrame = new AudioFrame(windowInput, this.inputRate, 1, windowInput.length);
        if (
          !this.sendVADEvent(
            event(VADEventType.INFERENCE_DONE, windowFrame, {
              silence: silenceThresholdDuration,
              speech: speechThresholdDuration,
            }),
          )
        ) {
          break;
        }

        if (p > this.opts.activationThreshold) {
          speechThresholdDuration += windowDuration;
          silenceThresholdDuration = 0;
          if (!pubSpeaking && speechThresholdDuration >= this.opts.minSpeechDuration) {
            pubSpeaking = true;
            pubSilenceDuration = 0;
            pubSpeechDuration = speechThresholdDuration;
            this.sendVADEvent(
              event(VADEventType.START_OF_SPEECH, this.speechFrame(), { silence: 0, speech: 0 }),
            );
          }
        } else {
          silenceThresholdDuration += windowDuration;
          speechThresholdDuration = 0;
          if (!pubSpeaking) this.trimSpeech();
          if (pubSpeaking && silenceThresholdDuration > this.opts.minSilenceDuration) {
            pubSpeaking = false;
            pubSpeechDuration = 0;
            pubSilenceDuration = silenceThresholdDuration;
            this.sendVADEvent(
              event(VADEventType.END_OF_SPEECH, this.speechFrame(), { silence: 0, speech: 0 }),
            );
            this.trimSpeech();
          }
        }
      }
    }
  }
}
