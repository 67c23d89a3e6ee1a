/** What the capacity bench and its probe processes say to each other over fork IPC. */

/** Event loop and CPU of a probe process over one window. */
export interface LoopSample {
  /** Event loop delay beyond the timer's schedule, from perf_hooks.monitorEventLoopDelay. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Event loop utilization (0..1) of the main thread. */
  elu: number;
  /** CPU time of the whole process (all threads) per wall time: 1 = one core busy. */
  cpuCores: number;
  rssMb: number;
}

/** A speech boundary as heard by a stream: position in its input audio, and when it was reported. */
export interface SpeechMark {
  id: string;
  kind: 'start' | 'end';
  atMs: number;
  /** Date.now() in the process hosting the VAD, when the event came out of the stream. */
  ts: number;
}

export type ToProbe =
  | { type: 'sample'; windowMs: number }
  /** VAD-only probe: open or close streams until `n` run. */
  | { type: 'resize'; n: number };

export type FromProbe =
  | { type: 'ready' }
  | { type: 'sample'; loop: LoopSample; speech: SpeechMark[] }
  /** VAD-only probe: the streams now running, with the Date.now() their audio started. */
  | { type: 'resized'; streams: { id: string; audioStartTs: number }[] };
