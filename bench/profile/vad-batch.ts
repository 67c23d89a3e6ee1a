/**
 * Cost of one Silero window: the plugin's way (one `session.run` per window, per stream) against
 * the batched VAD's (one `session.run` for B streams' windows), on the model file the plugin ships.
 * Prints one JSON line per case; `us_per_window` is wall time over windows, and for the worker
 * thread `loop_us_per_window` is the event loop's share of it (the rest runs off the loop).
 *   npx tsx bench/profile/vad-batch.ts [windows per case = 4096]
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SileroBatcher, type SileroThread } from '../../src/runtime/voice/silero-batcher.ts';
import { readWavMono16k } from '../../src/runtime/voice/wav.ts';

const total = Number(process.argv[2] ?? 4096);
const speech = await readWavMono16k(new URL('../../assets/audio/dental.wav', import.meta.url).pathname);
/** The i-th 512-sample window of the recording, scaled as the plugin scales it. */
const windowAt = (i: number) => {
  const at = (i * 512) % (speech.length - 512);
  return Float32Array.from(speech.subarray(at, at + 512), (x) => x / 32767);
};
const windows = Array.from({ length: 256 }, (_, i) => windowAt(i));
const round = (x: number) => Math.round(x * 10) / 10;

interface PluginModel {
  run(x: Float32Array): Promise<number>;
}
async function pluginModel(): Promise<PluginModel> {
  const entry = createRequire(import.meta.url).resolve('@livekit/agents-plugin-silero');
  const mod = (await import(pathToFileURL(join(dirname(entry), 'onnx_model.js')).href)) as {
    newInferenceSession(forceCPU: boolean): Promise<unknown>;
    OnnxModel: new (session: unknown, rate: number) => PluginModel;
  };
  return new mod.OnnxModel(await mod.newInferenceSession(true), 16_000);
}

async function plugin(): Promise<void> {
  const model = await pluginModel();
  for (let i = 0; i < 64; i++) await model.run(windows[i % windows.length] as Float32Array);
  const start = performance.now();
  for (let i = 0; i < total; i++) await model.run(windows[i % windows.length] as Float32Array);
  const ms = performance.now() - start;
  console.log(JSON.stringify({ case: 'plugin', batch: 1, us_per_window: round((ms * 1000) / total) }));
}

async function batched(thread: SileroThread, rows: number): Promise<void> {
  const batcher = await SileroBatcher.load({ sampleRate: 16_000, forceCPU: true, thread, maxBatch: rows });
  try {
    const streams = Array.from({ length: rows }, () => batcher.row());
    const step = (k: number) =>
      Promise.all(streams.map((s, b) => s.infer(windows[(k + b) % windows.length] as Float32Array)));
    for (let k = 0; k < Math.max(2, 64 / rows); k++) await step(k);
    const steps = Math.max(4, Math.round(total / rows));
    const elu = performance.eventLoopUtilization();
    const start = performance.now();
    for (let k = 0; k < steps; k++) await step(k);
    const ms = performance.now() - start;
    const loop = performance.eventLoopUtilization(elu);
    const n = steps * rows;
    console.log(
      JSON.stringify({
        case: `batched-${thread}`,
        batch: rows,
        us_per_window: round((ms * 1000) / n),
        loop_us_per_window: round((loop.active * 1000) / n),
      }),
    );
  } finally {
    await batcher.close();
  }
}

await plugin();
for (const rows of [1, 8, 32, 64, 128]) await batched('main', rows);
for (const rows of [1, 8, 32, 64, 128]) await batched('worker', rows);
