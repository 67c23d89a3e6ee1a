import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { type VAD, VADEventType } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAgentsLogger } from '../../../src/runtime/voice/agents-log.ts';
import { BatchedSileroVad, BatchedVadStream } from '../../../src/runtime/voice/batched-vad.ts';
import { SileroBatcher, type SileroThread } from '../../../src/runtime/voice/silero-batcher.ts';
import { loadSharedVad, vadImplementation } from '../../../src/runtime/voice/vad.ts';
import { readWavMono16k } from '../../../src/runtime/voice/wav.ts';
import { AUDIO, boundaryErrors, type Segment, segmentsOf } from './helpers.ts';

/** One Silero window at 16 kHz: the most a boundary may move (the brief's bound). */
const WINDOW_MS = 32;

interface Run {
  segments: Segment[];
  /** INFERENCE_DONE probabilities, window by window. */
  probabilities: number[];
  /** Lengths of the START/END_OF_SPEECH frames, in order. */
  speechFrameLengths: number[];
  /** END_OF_SPEECH frames that are not the input audio just before the event (16 kHz input only). */
  wrongEndFrames: number;
  /** The most input samples the stream held for speech frames (batched streams only). */
  maxRetained: number;
}

/**
 * Runs one stream of `vad` over `samples` as fast as it goes, in frames of `frameSamples`, and
 * records what it emitted up to the last window that lies wholly in `samples`. agents-js's input
 * plumbing holds the last frame or two back until more arrives (the stream never ends), so three
 * windows of silence follow the audio to push that window through.
 */
async function runStream(vad: VAD, samples: Int16Array, frameSamples = 320, rate = 16_000): Promise<Run> {
  const windowSamples = Math.round((512 * rate) / 16_000);
  const fed = new Int16Array(samples.length + 3 * windowSamples);
  fed.set(samples);
  let at = 0;
  const frames = new ReadableStream<AudioFrame>({
    pull(controller) {
      if (at >= fed.length) return controller.close();
      const data = fed.slice(at, at + frameSamples);
      at += data.length;
      controller.enqueue(new AudioFrame(data, rate, 1, data.length));
    },
  });
  const stream = vad.stream();
  stream.updateInputStream(frames);
  const run: Run = {
    segments: [],
    probabilities: [],
    speechFrameLengths: [],
    wrongEndFrames: 0,
    maxRetained: 0,
  };
  let start: number | undefined;
  const lastWindowMs = Math.floor(samples.length / windowSamples) * 32;
  for await (const ev of stream) {
    if (stream instanceof BatchedVadStream)
      run.maxRetained = Math.max(run.maxRetained, stream.retainedSamples);
    if (ev.type === VADEventType.START_OF_SPEECH) {
      start = ev.timestamp - ev.speechDuration;
      run.speechFrameLengths.push(ev.frames[0]?.samplesPerChannel ?? -1);
    }
    if (ev.type === VADEventType.END_OF_SPEECH) {
      const frame = ev.frames[0];
      run.speechFrameLengths.push(frame?.samplesPerChannel ?? -1);
      if (rate === 16_000 && frame) {
        const expected = samples.subarray(ev.samplesIndex - frame.samplesPerChannel, ev.samplesIndex);
        if (
          !Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength).equals(
            Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength),
          )
        )
          run.wrongEndFrames += 1;
      }
      if (start !== undefined)
        run.segments.push({ startMs: start, endMs: ev.timestamp - ev.silenceDuration });
      start = undefined;
    }
    if (ev.type === VADEventType.INFERENCE_DONE) {
      run.probabilities.push(ev.probability);
      if (ev.timestamp >= lastWindowMs) break;
    }
  }
  stream.close();
  return run;
}

function maxBoundaryError(found: Segment[], expected: Segment[]): number {
  return Math.max(0, ...boundaryErrors(found, expected));
}

function maxAbsDiff(a: number[], b: number[]): number {
  let max = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    max = Math.max(max, Math.abs((a[i] ?? 9) - (b[i] ?? -9)));
  return max;
}

/** `samples` preceded by `silence` zero samples. */
function delayed(samples: Int16Array, silence: number): Int16Array {
  const out = new Int16Array(silence + samples.length);
  out.set(samples, silence);
  return out;
}

const FILES = ['restaurant.wav', 'dental.wav'] as const;
const audio: Record<(typeof FILES)[number], Int16Array> = {
  'restaurant.wav': new Int16Array(0),
  'dental.wav': new Int16Array(0),
};

let plugin: VAD;
let batched: BatchedSileroVad;

beforeAll(async () => {
  ensureAgentsLogger();
  audio['restaurant.wav'] = await readWavMono16k(AUDIO.restaurant);
  audio['dental.wav'] = await readWavMono16k(AUDIO.dental);
  plugin = await silero.VAD.load();
  batched = await BatchedSileroVad.load();
});

afterAll(async () => {
  await batched?.close();
});

describe('the batched Silero VAD compared with the plugin', () => {
  for (const file of FILES) {
    it(`one stream of ${file}: the plugin's segments, probabilities and speech frames`, async () => {
      const expected = await runStream(plugin, audio[file]);
      const found = await runStream(batched, audio[file]);
      // The plugin itself finds the utterances the recording was built with.
      expect(expected.segments).toHaveLength(segmentsOf(file).segments.length);
      expect(found.segments).toHaveLength(expected.segments.length);
      const error = maxBoundaryError(found.segments, expected.segments);
      console.log(`${file}: max boundary difference ${error} ms`);
      expect(error).toBeLessThanOrEqual(WINDOW_MS);
      // Alone in its batch, a row's arithmetic is the plugin's: the same numbers, bit for bit.
      expect(found.probabilities).toEqual(expected.probabilities);
      expect(found.speechFrameLengths).toEqual(expected.speechFrameLengths);
      expect(found.wrongEndFrames).toBe(0);
      // Lean: it holds the current utterance and the prefix padding, not a 60 s buffer.
      const longestUtteranceMs = Math.max(...segmentsOf(file).segments.map((s) => s.endMs - s.startMs));
      expect(found.maxRetained).toBeGreaterThan(0);
      expect(found.maxRetained).toBeLessThanOrEqual(16 * (500 + longestUtteranceMs + 1000));
    });
  }

  it("one stream of 48 kHz input (resampled for the model): the plugin's segments", async () => {
    const resampler = new AudioResampler(16_000, 48_000, 1, AudioResamplerQuality.HIGH);
    const src = audio['restaurant.wav'];
    const parts = [...resampler.push(new AudioFrame(src, 16_000, 1, src.length)), ...resampler.flush()].map(
      (f) => f.data.subarray(0, f.samplesPerChannel),
    );
    resampler.close();
    const up = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => {
      up.set(p, at);
      return at + p.length;
    }, 0);
    const expected = await runStream(plugin, up, 960, 48_000);
    const found = await runStream(batched, up, 960, 48_000);
    // rtc-node's resampler does not give the same samples twice (the plugin differs from itself
    // run to run here, by up to 0.03 in probability over 200 windows), so compare decisions.
    expect(expected.segments).toHaveLength(segmentsOf('restaurant.wav').segments.length);
    expect(found.segments).toHaveLength(expected.segments.length);
    expect(maxBoundaryError(found.segments, expected.segments)).toBeLessThanOrEqual(WINDOW_MS);
    expect(found.probabilities).toHaveLength(expected.probabilities.length);
    expect(found.speechFrameLengths.length).toBe(expected.speechFrameLengths.length);
  });

  it("64 concurrent streams: each finds the plugin's segments for its own audio, in shared batches", async () => {
    // 4 different inputs (2 recordings, lead-in silences that shift the windows), 3 frame sizes
    // (30, 60 and 90 ms: fewer frames through agents-js's input streams keep the test quick).
    const variants = [
      { file: 'restaurant.wav', silence: 0 },
      { file: 'restaurant.wav', silence: 4321 },
      { file: 'dental.wav', silence: 1234 },
      { file: 'dental.wav', silence: 7777 },
    ].map((v) => ({ ...v, samples: delayed(audio[v.file as (typeof FILES)[number]], v.silence) }));
    const started = performance.now();
    const references = await Promise.all(variants.map((v) => runStream(plugin, v.samples)));
    const referenceMs = performance.now() - started;
    const before = batched.stats();
    const runs = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        runStream(
          batched,
          (variants[i % variants.length] as (typeof variants)[number]).samples,
          [480, 960, 1440][i % 3],
        ),
      ),
    );
    const after = batched.stats();

    let worstBoundary = 0;
    let worstProbability = 0;
    runs.forEach((run, i) => {
      const reference = references[i % variants.length] as Run;
      expect(run.segments, `stream ${i}`).toHaveLength(reference.segments.length);
      worstBoundary = Math.max(worstBoundary, maxBoundaryError(run.segments, reference.segments));
      worstProbability = Math.max(worstProbability, maxAbsDiff(run.probabilities, reference.probabilities));
      expect(run.wrongEndFrames, `stream ${i}`).toBe(0);
    });
    const windows = after.windows - before.windows;
    const calls = after.runs - before.runs;
    console.log(
      `64 streams: max boundary difference ${worstBoundary} ms, max |probability difference| ${worstProbability}, ` +
        `${windows} windows in ${calls} runs (largest batch ${after.maxBatch}); ` +
        `plugin references ${referenceMs.toFixed(0)} ms, batched ${(performance.now() - started - referenceMs).toFixed(0)} ms`,
    );
    expect(worstBoundary).toBeLessThanOrEqual(WINDOW_MS);
    expect(worstProbability).toBeLessThan(1e-3);
    // Batched for real: one run served many streams. (A stream's windows already queued when its
    // reader stops are still run, so the batcher counts a few more than the readers saw.)
    expect(windows).toBeGreaterThanOrEqual(runs.reduce((n, r) => n + r.probabilities.length, 0));
    expect(windows / calls).toBeGreaterThanOrEqual(8);
    expect(after.maxBatch).toBeGreaterThanOrEqual(32);
  });
});

describe('where the batched model runs', () => {
  /** Event-loop utilisation while 128 rows go through the model 10 times. */
  async function utilisation(thread: SileroThread): Promise<number> {
    const batcher = await SileroBatcher.load({ sampleRate: 16_000, forceCPU: true, thread, maxBatch: 128 });
    try {
      const rows = Array.from({ length: 128 }, () => batcher.row());
      const window = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 7) * 0.3);
      await Promise.all(rows.map((r) => r.infer(window)));
      const start = performance.eventLoopUtilization();
      for (let i = 0; i < 10; i++) await Promise.all(rows.map((r) => r.infer(window)));
      expect(batcher.stats().maxBatch).toBe(128);
      return performance.eventLoopUtilization(start).utilization;
    } finally {
      await batcher.close();
    }
  }

  it('in a worker thread: the event loop is idle while a batch computes (on the main thread it is not)', async () => {
    const onWorker = await utilisation('worker');
    const onMain = await utilisation('main');
    console.log(
      `event-loop utilisation: worker thread ${onWorker.toFixed(2)}, main thread ${onMain.toFixed(2)}`,
    );
    expect(onMain).toBeGreaterThan(0.7); // the measure sees a blocking run
    expect(onWorker).toBeLessThan(0.4);
  });
});

describe('exiting while the worker thread runs a batch', () => {
  it('the process exits with its own code (onnxruntime stopped mid-run would abort it, code 134)', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const batcher = new URL('../../../src/runtime/voice/silero-batcher.ts', import.meta.url).href;
    const dir = mkdtempSync(join(tmpdir(), 'openrtc-batched-vad-'));
    const script = join(dir, 'exit-mid-batch.mts');
    writeFileSync(
      script,
      `import { SileroBatcher } from ${JSON.stringify(batcher)};
const b = await SileroBatcher.load({ sampleRate: 16000, forceCPU: true, thread: 'worker', maxBatch: 128 });
const rows = Array.from({ length: 128 }, () => b.row());
const w = new Float32Array(512).fill(0.1);
await Promise.all(rows.map((r) => r.infer(w)));
void Promise.all(rows.map((r) => r.infer(w)));
setTimeout(() => process.exit(0), Number(process.argv[2]));
`,
    );
    try {
      // A 128-row batch takes several ms: each delay exits while it runs.
      const results = await Promise.all(
        [2, 6].map(
          (delay) =>
            new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
              const child = spawn(process.execPath, ['--import', 'tsx', script, String(delay)], {
                cwd: root,
                stdio: ['ignore', 'ignore', 'pipe'],
              });
              let stderr = '';
              child.stderr?.on('data', (d) => {
                stderr += d;
              });
              child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
            }),
        ),
      );
      for (const r of results) expect(r).toEqual({ code: 0, signal: null, stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the shared VAD', () => {
  it("is the batched VAD unless OPENRTC_VAD=plugin (or the implementation option) asks for the plugin's", async () => {
    expect(vadImplementation(undefined, {})).toBe('batched');
    expect(vadImplementation(undefined, { OPENRTC_VAD: 'plugin' })).toBe('plugin');
    expect(vadImplementation({ implementation: 'batched' }, { OPENRTC_VAD: 'plugin' })).toBe('batched');
    expect(() => vadImplementation(undefined, { OPENRTC_VAD: 'onnx' })).toThrow(/OPENRTC_VAD/);
    const { vad } = await loadSharedVad();
    expect(vad).toBeInstanceOf(vadImplementation() === 'batched' ? BatchedSileroVad : silero.VAD);
  });
});
