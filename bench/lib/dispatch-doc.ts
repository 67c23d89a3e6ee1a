import { mdTable } from './report.ts';
import { percentile, round } from './stats.ts';

/** Where one dispatch's time went (ms); worker-side stamps are Date.now(), so 1 ms resolution. */
export interface Hops {
  /** Request → dispatch.ok at the client (routing, placement, reply). */
  dispatchOk: number;
  /** Request sent → the worker's session machine enters `prewarming`. */
  toWorker: number;
  prewarm: number;
  connect: number;
  greet: number;
  /** The worker's `active` transition → the client sees it. */
  toClient: number;
}

/** docs/benchmarks/dispatch.md (layout; the method text is added with the final figures). */
export function dispatchDoc(
  r: Record<string, unknown>,
  samples: { ms: number; hops: Hops }[],
  cold: number[],
): string {
  const ms = samples.map((s) => s.ms);
  const table = mdTable(
    ['path', 'n', 'p50', 'p90', 'p99', 'max'],
    [
      [
        'pool: dispatch → active',
        ms.length,
        ...[50, 90, 99, 100].map((p) => `${round(percentile(ms, p), 2)} ms`),
      ],
      [
        'agents-js: fork → initializeResponse',
        cold.length,
        ...[50, 90, 99, 100].map((p) => `${round(percentile(cold, p))} ms`),
      ],
    ],
  );
  return `# dispatch\n\n${table}\n\n\`\`\`json\n${JSON.stringify(r)}\n\`\`\`\n`;
}
