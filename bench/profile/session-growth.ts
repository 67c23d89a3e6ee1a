/**
 * How a live voice session's memory grows with call time, in one process (run with a GC handle):
 *   node --expose-gc --import tsx bench/profile/session-growth.ts [agent module] [sessions=10]
 * Runs N VoiceSessions (the runtime's, on the shared Silero VAD) on the bundled speech at real
 * time, and prints the growth of live JS heap and ArrayBuffer memory per session per 10 s of call,
 * after full GCs. 16 kHz mono input is 0.31 MB per 10 s: growth of that size is every input frame
 * being kept (agents-js readStream(), livekit/agents-js#2046).
 */
import { fileURLToPath } from 'node:url';
import { LocalSessionTransport } from '../../src/runtime/voice/local-session-transport.ts';
import { VoiceSession } from '../../src/runtime/voice/session-runner.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const agent = process.argv[2] ?? `${root}examples/agents/restaurant.ts`;
const n = Number(process.argv[3] ?? 10);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const mb = (x: number) => Math.round((x / 2 ** 20) * 100) / 100;
for (let i = 0; i < n; i++) {
  const s = new VoiceSession({
    id: `g${i}`,
    agent,
    transport: new LocalSessionTransport({
      input: { kind: 'wav', path: `${root}assets/audio/restaurant.wav`, realtime: true, loops: 100 },
      output: { kind: 'discard' },
    }),
  });
  await s.prewarm();
  await s.connect(1);
}
const read = () => {
  gc();
  gc();
  return process.memoryUsage();
};
await new Promise((r) => setTimeout(r, 5000));
const a = read();
await new Promise((r) => setTimeout(r, 10_000));
const b = read();
console.log(
  JSON.stringify({
    sessions: n,
    heap_mb_per_session_per_10s: mb((b.heapUsed - a.heapUsed) / n),
    array_buffers_mb_per_session_per_10s: mb((b.arrayBuffers - a.arrayBuffers) / n),
    rss_mb_per_session_per_10s: mb((b.rss - a.rss) / n),
  }),
);
process.exit(0);
