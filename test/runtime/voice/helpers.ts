import { readFileSync } from 'node:fs';
import { ReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { type VAD, VADEventType } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export const AUDIO = {
  restaurant: `${root}assets/audio/restaurant.wav`,
  dental: `${root}assets/audio/dental.wav`,
} as const;

export const EXAMPLES = {
  dir: `${root}examples/agents`,
  restaurant: `${root}examples/agents/restaurant.ts`,
  dental: `${root}examples/agents/dental.ts`,
} as const;

export interface Segment {
  startMs: number;
  endMs: number;
}

interface SegmentsFile {
  [file: string]: { sampleRate: number; durationMs: number; segments: (Segment & { text: string })[] };
}

/** The speech segments a bundled recording holds by construction (assets/audio/segments.json). */
export function segmentsOf(file: 'restaurant.wav' | 'dental.wav') {
  const all = JSON.parse(readFileSync(`${root}assets/audio/segments.json`, 'utf8')) as SegmentsFile;
  const entry = all[file];
  if (!entry) throw new Error(`segments.json has no ${file}`);
  return entry;
}

/** Runs one stream of a VAD over 16 kHz mono samples as fast as it goes; returns the speech segments it finds. */
export async function vadSegments(vad: VAD, samples: Int16Array, frameSamples = 320): Promise<Segment[]> {
  let at = 0;
  const frames = new ReadableStream<AudioFrame>({
    pull(controller) {
      if (at >= samples.length) return controller.close();
      const data = samples.slice(at, at + frameSamples);
      at += data.length;
      controller.enqueue(new AudioFrame(data, 16_000, 1, data.length));
    },
  });
  const stream = vad.stream();
  stream.updateInputStream(frames);
  const segments: Segment[] = [];
  let start: number | undefined;
  const lastWindowMs = ((samples.length - 512) / 16_000) * 1000;
  for await (const ev of stream) {
    if (ev.type === VADEventType.START_OF_SPEECH) start = ev.timestamp - ev.speechDuration;
    if (ev.type === VADEventType.END_OF_SPEECH && start !== undefined) {
      segments.push({ startMs: start, endMs: ev.timestamp - ev.silenceDuration });
      start = undefined;
    }
    if (ev.type === VADEventType.INFERENCE_DONE && ev.timestamp >= lastWindowMs) break;
  }
  stream.close();
  return segments;
}

/** How far two segment lists are apart, boundary by boundary (they must be as many). */
export function boundaryErrors(found: Segment[], expected: Segment[]): number[] {
  return expected.flatMap((e, i) => [
    Math.abs((found[i]?.startMs ?? Number.NaN) - e.startMs),
    Math.abs((found[i]?.endMs ?? Number.NaN) - e.endMs),
  ]);
}
