import { VAD, type VADEvent, VADEventType, type VADStream } from '@livekit/agents';

/** A user speech boundary seen by the VAD, placed on the session's input audio timeline. */
export interface VadSpeechEvent {
  kind: 'start' | 'end';
  /** Position in the input audio (ms since the first frame the VAD processed). */
  atMs: number;
}

export interface VadObserver {
  onSpeech?(ev: VadSpeechEvent): void;
  /** Total input audio the VAD has run inference on, in ms. */
  onProgress?(processedMs: number): void;
}

/**
 * One session's view of the worker's shared VAD. AgentSession hands it to its audio recognition,
 * which opens one `stream()` of the shared model per activity. The view
 *  - reports that stream's speech boundaries and progress to the session (not to every session);
 *  - routes the stream's `metrics_collected` to this view, so a session's AgentSession sees only
 *    its own VAD metrics (the shared model would broadcast every session's metrics to all);
 *  - never closes the shared model.
 * A non-streaming STT makes agents-js open a second stream (its StreamAdapter segments speech with
 * the VAD); only the oldest open stream reports, so events are not doubled.
 */
export class SessionVad extends VAD {
  label: string;
  private processedMs = 0;
  /** Open streams, oldest first; only the oldest reports, so a second stream never doubles events. */
  private readonly open: symbol[] = [];

  constructor(
    private readonly shared: VAD,
    private readonly observer: VadObserver = {},
  ) {
    super(shared.capabilities);
    this.label = shared.label;
  }

  override get minSilenceDuration(): number | null {
    return this.shared.minSilenceDuration;
  }

  /** Input audio the VAD has run inference on so far, in ms, across this session's streams. */
  get processed(): number {
    return this.processedMs;
  }

  stream(): VADStream {
    const stream = this.shared.stream();
    // VADStream emits its metrics on `this.vad`; point it here (a protected field, by design public in JS).
    (stream as unknown as { vad: VAD }).vad = this;
    const baseMs = this.processedMs;
    const token = Symbol('stream');
    this.open.push(token);
    const ended = () => {
      const at = this.open.indexOf(token);
      if (at >= 0) this.open.splice(at, 1);
    };
    const observe = (ev: VADEvent) => {
      if (this.open[0] === token) this.observe(ev, baseMs);
    };
    return new Proxy(stream, {
      get(target, prop, receiver) {
        if (prop === 'next') {
          return async () => {
            const result = await target.next();
            if (result.done) ended();
            else observe(result.value);
            return result;
          };
        }
        if (prop === 'close') {
          return () => {
            ended();
            target.close();
          };
        }
        if (prop === Symbol.asyncIterator) return () => receiver;
        const value = Reflect.get(target, prop, target);
        // Bind to the real stream: its private fields are not reachable through the proxy.
        return typeof value === 'function' ? value.bind(target) : value;
      },
      set(target, prop, value) {
        return Reflect.set(target, prop, value, target);
      },
    });
  }

  override async close(): Promise<void> {
    // The shared model outlives every session.
  }

  private observe(ev: VADEvent, baseMs: number): void {
    switch (ev.type) {
      case VADEventType.INFERENCE_DONE:
        this.processedMs = baseMs + ev.timestamp;
        this.observer.onProgress?.(this.processedMs);
        break;
      case VADEventType.START_OF_SPEECH:
        this.observer.onSpeech?.({
          kind: 'start',
          atMs: Math.max(0, baseMs + ev.timestamp - ev.speechDuration),
        });
        break;
      case VADEventType.END_OF_SPEECH:
        this.observer.onSpeech?.({
          kind: 'end',
          atMs: Math.max(0, baseMs + ev.timestamp - ev.silenceDuration),
        });
        break;
    }
  }
}
