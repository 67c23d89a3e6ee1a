// Where a worker process's start-up time goes, step by step, in a fresh process (run it a few
// times; the first run after a cold disk cache is slower):
//   node bench/profile/worker-boot.mjs
// Steps: the TypeScript loader (tsx), @livekit/agents, the Silero plugin, the rest of the worker
// runtime, and the Silero model load; prints one JSON line.
const t0 = performance.now();
const { register } = await import('tsx/esm/api');
register();
const t1 = performance.now();
await import('@livekit/agents');
const t2 = performance.now();
await import('@livekit/agents-plugin-silero');
const t3 = performance.now();
await import('../../src/runtime/worker/run.ts');
const t4 = performance.now();
const { loadSharedVad } = await import('../../src/runtime/voice/vad.ts');
await loadSharedVad();
const t5 = performance.now();
const ms = (a, b) => Math.round(b - a);
console.log(
  JSON.stringify({
    node_to_main_ms: Math.round(t0),
    tsx_ms: ms(t0, t1),
    livekit_agents_ms: ms(t1, t2),
    silero_plugin_ms: ms(t2, t3),
    worker_runtime_ms: ms(t3, t4),
    silero_load_ms: ms(t4, t5),
    total_ms: Math.round(t5),
    rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20),
  }),
);
process.exit(0);
