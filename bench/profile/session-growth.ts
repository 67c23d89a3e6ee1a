/**
 * How a live voice session's memory grows with call time, in one process (run with a GC handle):
 *   node --expose-gc --import tsx bench/profile/session-growth.ts [agent module] [sessions=10] [--seconds 10] [--write-docs]
 * Runs N VoiceSessions (the runtime's, on the worker's default VAD) on the bundled speech at real
 * time, and prints the growth of live JS heap and ArrayBuffer memory per session per 10 s of call,
 * after full GCs, over a window of --seconds. 16 kHz mono input is 0.31 MB per 10 s: growth of that
 * size is every input frame being kept (agents-js readStream(), livekit/agents-js#2046). With
 * `--write-docs` it also writes docs/benchmarks/profiles/session-growth.json.
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LocalSessionTransport } from '../../src/runtime/voice/local-session-transport.ts';
import { VoiceSession } from '../../src/runtime/voice/session-runner.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const flags = process.argv.slice(2);
const secondsAt = flags.indexOf('--seconds');
const seconds = secondsAt >= 0 ? Number(flags[secondsAt + 1]) : 10;
const positional = flags.filter((f, i) => !f.startsWith('--') && (secondsAt < 0 || i !== secondsAt + 1));
const agent = positional[0] ?? `${root}examples/agents/restaurant.ts`;
const n = Number(positional[1] ?? 10);
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
await new Promise((r) => setTimeout(r, seconds * 1000));
const b = read();
const per10s = (x: number) => mb((x / n) * (10 / seconds));
const result = {
  generated_by: `node --expose-gc --import tsx bench/profile/session-growth.ts ${flags.join(' ')}`.trim(),
  commit: execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim(),
  load_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  sessions: n,
  window_s: seconds,
  heap_mb_per_session_per_10s: per10s(b.heapUsed - a.heapUsed),
  array_buffers_mb_per_session_per_10s: per10s(b.arrayBuffers - a.arrayBuffers),
  rss_mb_per_session_per_10s: per10s(b.rss - a.rss),
  input_mb_per_10s: mb(16_000 * 2 * 10),
};
console.log(JSON.stringify(result));
if (flags.includes('--write-docs'))
  writeFileSync(
    `${root}docs/benchmarks/profiles/session-growth.json`,
    `${JSON.stringify(result, null, 1)}\n`,
  );
process.exit(0);
