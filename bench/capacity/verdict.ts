import type { LoopSample, SpeechMark } from './messages.ts';

/** What "sustains" means; the same rules judge the VAD-only floor and the pool. */
export const SUSTAIN = {
  /** Event loop delay p99 over the window. */
  loopP99Ms: 20,
  /** How much later than a real-time VAD a speech boundary may be reported. */
  lateMs: 500,
} as const;

/**
 * Silero (agents-js defaults, 32 ms windows) reports a start after 2 windows of speech and an end
 * after 18 windows (576 ms) of silence; a real-time VAD reports a boundary that much after it.
 */
export const DETECTION_MS = { start: 64, end: 576 } as const;

export interface StreamInfo {
  id: string;
  audioStartTs: number;
}

export interface Verdict {
  n: number;
  pass: boolean;
  loop: LoopSample;
  /** Streams that reported no speech boundary in the period. */
  silent: number;
  boundaries: number;
  /** How much later than a real-time VAD boundaries were reported (ms): p50 and max. */
  lateP50Ms: number;
  lateMaxMs: number;
  slowWarnings: number;
  reasons: string[];
}

/**
 * Judges one probe: loop delay p99 within bounds, every stream heard a speech boundary in the
 * period [from, to] (both Date.now()), and none was reported later than real time allows.
 */
export function judge(input: {
  streams: StreamInfo[];
  speech: SpeechMark[];
  from: number;
  to: number;
  loop: LoopSample;
  slowWarnings?: number;
}): Verdict {
  const start = new Map(input.streams.map((s) => [s.id, s.audioStartTs]));
  const heard = new Set<string>();
  const late: number[] = [];
  for (const m of input.speech) {
    const t0 = start.get(m.id);
    if (t0 === undefined || m.ts < input.from || m.ts > input.to) continue;
    heard.add(m.id);
    late.push(m.ts - t0 - m.atMs - DETECTION_MS[m.kind]);
  }
  late.sort((a, b) => a - b);
  const silent = input.streams.filter((s) => !heard.has(s.id)).length;
  const lateMaxMs = late.length ? (late.at(-1) as number) : Number.NaN;
  const reasons: string[] = [];
  if (!(input.loop.p99Ms <= SUSTAIN.loopP99Ms)) reasons.push(`loop p99 ${input.loop.p99Ms.toFixed(1)} ms`);
  if (silent > 0) reasons.push(`${silent} streams heard no speech`);
  if (lateMaxMs > SUSTAIN.lateMs) reasons.push(`speech reported ${Math.round(lateMaxMs)} ms late`);
  return {
    n: input.streams.length,
    pass: reasons.length === 0 && input.streams.length > 0,
    loop: input.loop,
    silent,
    boundaries: late.length,
    lateP50Ms: late.length ? (late[Math.floor(late.length / 2)] as number) : Number.NaN,
    lateMaxMs,
    slowWarnings: input.slowWarnings ?? 0,
    reasons,
  };
}
