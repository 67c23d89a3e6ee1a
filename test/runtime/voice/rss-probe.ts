/**
 * Memory of the voice side of one worker process, printed as one JSON line (measure, never assert):
 *   node --expose-gc --import tsx test/runtime/voice/rss-probe.ts [sessions=20] [churn=200]
 * RSS before and after importing @livekit/agents, after loading the shared Silero VAD, the
 * marginal RSS and heap per concurrent VoiceSession (real-time input, all sessions live), and the
 * heap left behind by `churn` sessions opened and closed one after another.
 */
import { fileURLToPath } from 'node:url';
import type { LocalAudioInput } from '../../../src/protocol/agent.ts';

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const settle = async (ms = 300) => {
  gc();
  await new Promise((r) => setTimeout(r, ms));
  gc();
};
const mem = () => process.memoryUsage();

const sessions = Number(process.argv[2] ?? 20);
const churn = Number(process.argv[3] ?? 200);
const root = fileURLToPath(new URL('../../../', import.meta.url));

const start = mem();
await import('@livekit/agents');
await import('@livekit/agents-plugin-silero');
await settle();
const imported = mem();

const { loadSharedVad } = await import('../../../src/runtime/voice/vad.ts');
const { VoiceSession } = await import('../../../src/runtime/voice/session-runner.ts');
const { LocalSessionTransport } = await import('../../../src/runtime/voice/local-session-transport.ts');
const { ms: vadMs } = await loadSharedVad();
await settle();
const vadLoaded = mem();

const restaurant = `${root}examples/agents/restaurant.ts`;
const callAudio = `${root}assets/audio/restaurant.wav`;
const open = (id: string, input: LocalAudioInput) =>
  new VoiceSession({
    id,
    agent: restaurant,
    transport: new LocalSessionTransport({ input, output: { kind: 'discard' } }),
  });

// One session first, so modules and caches that load lazily are not charged to the N sessions.
const warm = open('warm', { kind: 'wav', path: callAudio, realtime: false });
await warm.prewarm();
await warm.connect(1);
await warm.greet();
await new Promise((r) => setTimeout(r, 1500));
await warm.close();
await settle();
const baseline = mem();

const live = Array.from({ length: sessions }, (_, i) =>
  open(`s${i}`, { kind: 'wav', path: callAudio, realtime: true, loops: 10 }),
);
for (const s of live) {
  await s.prewarm();
  await s.connect(1);
  await s.greet();
}
await new Promise((r) => setTimeout(r, 5000)); // every session hears its caller in real time
await settle(100);
const running = mem();
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
await new Promise((r) => setTimeout(r, 3000));
const cpu = process.cpuUsage(cpuBefore);
const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore);
const speeches = live.reduce((n, s) => n + s.speechCount, 0);
await Promise.all(live.map((s) => s.close()));
await settle();
const afterClose = mem();

for (let i = 0; i < churn; i++) {
  const s = open(`c${i}`, { kind: 'silence', durationMs: 200 });
  await s.prewarm();
  await s.connect(1);
  await s.close();
}
await settle(500);
const afterChurn = mem();

console.log(
  JSON.stringify({
    node: process.version,
    rssStartMb: mb(start.rss),
    rssAfterAgentsImportMb: mb(imported.rss),
    rssAfterVadMb: mb(vadLoaded.rss),
    vadLoadMs: Math.round(vadMs),
    rssBaselineMb: mb(baseline.rss),
    sessions,
    rssWithSessionsMb: mb(running.rss),
    marginalRssPerSessionMb: mb((running.rss - baseline.rss) / sessions),
    marginalHeapPerSessionMb: mb((running.heapUsed - baseline.heapUsed) / sessions),
    cpuCoresForSessions: Math.round(cpuShare * 100) / 100,
    speechesHeard: speeches,
    rssAfterCloseMb: mb(afterClose.rss),
    heapAfterCloseMb: mb(afterClose.heapUsed),
    churnSessions: churn,
    heapAfterChurnMb: mb(afterChurn.heapUsed),
    heapPerChurnedSessionKb:
      Math.round(((afterChurn.heapUsed - afterClose.heapUsed) / churn / 1024) * 10) / 10,
    rssAfterChurnMb: mb(afterChurn.rss),
  }),
);
process.exit(0);
