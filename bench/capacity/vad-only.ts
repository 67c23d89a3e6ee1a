/**
 * The capacity floor's probe process: N `vad.stream()`s of one Silero model, each fed the bundled
 * speech at real time, with no AgentSession and none of our runtime. Forked by capacity.bench.ts;
 * takes `resize` and `sample` requests over IPC (see messages.ts).
 */
import { ReadableStream } from 'node:stream/web';
import { initializeLogger, VADEventType, type VADStream } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { readWavMono16k } from '../../src/runtime/voice/wav.ts';
import { startLoopProbe } from './loop-probe.ts';
import type { FromProbe, SpeechMark, ToProbe } from './messages.ts';

const [restaurantWav, dentalWav] = process.argv.slice(2) as [string, string];
const RATE = 16_000;
const FRAME = 320; // 20 ms, as the local transport feeds a session

const send = (m: FromProbe) => process.send?.(m);
// agents-js logs to stdout; the parent counts its "slower than realtime" warnings there.
initializeLogger({ pretty: false, level: 'warn' });
const loop = startLoopProbe();
const vad = await silero.VAD.load();
const audio = [await readWavMono16k(restaurantWav), await readWavMono16k(dentalWav)];
let marks: SpeechMark[] = [];

/** One stream of the shared model, fed one WAV in a loop at real time. */
class Feed {
  audioStartTs = 0;
  private stopped = false;
  private readonly stream: VADStream;
  private readonly started: Promise<void>;

  constructor(
    readonly id: string,
    samples: Int16Array,
  ) {
    this.stream = vad.stream();
    let fed = 0;
    let t0 = 0;
    let onStart!: () => void;
    this.started = new Promise((r) => {
      onStart = r;
    });
    // Paced like the local transport's real-time input: each frame is due at start + audio fed.
    const frames = new ReadableStream<AudioFrame>(
      {
        pull: async (controller) => {
          if (t0 === 0) {
            // Calls start at random moments: without a random phase, streams started together
            // would run their 20 ms frames in lockstep, and the loop would see bursts no real
            // pool sees.
            await new Promise((r) => setTimeout(r, Math.random() * 64));
            t0 = performance.now();
            this.audioStartTs = Date.now();
            onStart();
          }
          const wait = t0 + (fed * 1000) / RATE - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          if (this.stopped) {
            controller.close();
            return;
          }
          const data = new Int16Array(FRAME);
          for (let i = 0, at = fed % samples.length; i < FRAME; i++, at = (at + 1) % samples.length) {
            data[i] = samples[at] as number;
          }
          fed += FRAME;
          controller.enqueue(new AudioFrame(data, RATE, 1, FRAME));
        },
      },
      { highWaterMark: 0 },
    );
    this.stream.updateInputStream(frames);
    void this.consume();
  }

  ready(): Promise<void> {
    return this.started;
  }

  stop(): void {
    this.stopped = true;
    this.stream.close();
  }

  private async consume(): Promise<void> {
    try {
      for await (const ev of this.stream) {
        if (ev.type === VADEventType.START_OF_SPEECH)
          marks.push({ id: this.id, kind: 'start', atMs: ev.timestamp - ev.speechDuration, ts: Date.now() });
        else if (ev.type === VADEventType.END_OF_SPEECH)
          marks.push({ id: this.id, kind: 'end', atMs: ev.timestamp - ev.silenceDuration, ts: Date.now() });
      }
    } catch {
      // closed
    }
  }
}

const feeds: Feed[] = [];
let nextId = 0;

process.on('message', async (m: ToProbe) => {
  if (m.type === 'resize') {
    const added: Feed[] = [];
    while (feeds.length < m.n) {
      const i = nextId++;
      const feed = new Feed(`v${i}`, audio[i % 2] as Int16Array);
      feeds.push(feed);
      added.push(feed);
    }
    while (feeds.length > m.n) feeds.pop()?.stop();
    await Promise.all(added.map((f) => f.ready()));
    send({ type: 'resized', streams: feeds.map((f) => ({ id: f.id, audioStartTs: f.audioStartTs })) });
  } else if (m.type === 'sample') {
    const sample = await loop.sample(m.windowMs);
    const speech = marks;
    marks = [];
    send({ type: 'sample', loop: sample, speech });
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
