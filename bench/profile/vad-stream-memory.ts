/**
 * Memory of bare Silero streams (no AgentSession, no runtime): opens N streams of one model, feeds
 * each 5 s of the bundled speech, and prints RSS and ArrayBuffer memory per stream. Shows how much
 * of a session's memory is the VAD stream itself:
 *   npx tsx bench/profile/vad-stream-memory.ts [N=50]
 */
import { ReadableStream } from 'node:stream/web';
import { initializeLogger } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { readWavMono16k } from '../../src/runtime/voice/wav.ts';

const n = Number(process.argv[2] ?? 50);
initializeLogger({ pretty: false, level: 'error' });
const vad = await silero.VAD.load(
  process.env.MAX_BUFFERED_SPEECH_MS
    ? { maxBufferedSpeech: Number(process.env.MAX_BUFFERED_SPEECH_MS) }
    : undefined,
);
const audio = await readWavMono16k(new URL('../../assets/audio/restaurant.wav', import.meta.url).pathname);
const mb = (x: number) => Math.round((x / 2 ** 20) * 100) / 100;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
gc();
const before = process.memoryUsage();
const streams = [];
for (let i = 0; i < n; i++) {
  const stream = vad.stream();
  let fed = 0;
  stream.updateInputStream(
    new ReadableStream<AudioFrame>({
      pull(controller) {
        if (fed >= 16_000 * 5) return controller.close();
        const data = audio.slice(fed % audio.length, (fed % audio.length) + 320);
        fed += 320;
        controller.enqueue(new AudioFrame(data, 16_000, 1, data.length));
      },
    }),
  );
  void (async () => {
    for await (const _ of stream);
  })();
  streams.push(stream);
}
await new Promise((r) => setTimeout(r, 6000));
gc();
const after = process.memoryUsage();
console.log(
  JSON.stringify({
    streams: n,
    rss_mb_per_stream: mb((after.rss - before.rss) / n),
    array_buffers_mb_per_stream: mb((after.arrayBuffers - before.arrayBuffers) / n),
    heap_used_mb_per_stream: mb((after.heapUsed - before.heapUsed) / n),
  }),
);
process.exit(0);
