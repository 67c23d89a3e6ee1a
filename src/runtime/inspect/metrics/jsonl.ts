import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LifecycleEvent, PoolMetrics } from './pool-metrics.ts';

/** OpenRTC's metrics stream version: existing `jq` recipes read the same envelope. */
export const METRICS_SCHEMA_VERSION = 1;

export interface MetricsRecord {
  schema_version: number;
  kind: 'snapshot' | 'event';
  seq: number;
  /** Seconds since the epoch, with a fraction. */
  wall_time_unix: number;
  payload: Record<string, unknown>;
}

/**
 * `--metrics-jsonl FILE`: one JSON object per line. Pool snapshots every `everyMs`, interleaved
 * with session_started / session_finished / session_failed events as they happen. The file is
 * truncated at start: one run, one stream.
 */
export class JsonlMetricsSink {
  private seq = 0;
  private readonly out: WriteStream;
  private readonly timer: NodeJS.Timeout;
  private readonly off: () => void;

  constructor(
    private readonly metrics: PoolMetrics,
    file: string,
    everyMs = 5000,
  ) {
    const path = resolve(file);
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path, { flags: 'w' });
    this.off = metrics.onLifecycle((e) => this.event(e));
    this.snapshot();
    this.timer = setInterval(() => this.snapshot(), everyMs);
    this.timer.unref();
  }

  snapshot(): void {
    this.write('snapshot', this.metrics.snapshot());
  }

  private event(e: LifecycleEvent): void {
    // session_active feeds the Prometheus histogram; OpenRTC's stream has no such event.
    if (e.event === 'session_active') return;
    const { at, ...rest } = e;
    this.write('event', rest);
  }

  private write(kind: MetricsRecord['kind'], payload: Record<string, unknown>): void {
    const record: MetricsRecord = {
      schema_version: METRICS_SCHEMA_VERSION,
      kind,
      seq: ++this.seq,
      wall_time_unix: Date.now() / 1000,
      payload,
    };
    this.out.write(`${JSON.stringify(record)}\n`);
  }

  /** Writes a last snapshot and closes the file. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.off();
    this.snapshot();
    await new Promise<void>((r) => this.out.end(() => r()));
  }
}
