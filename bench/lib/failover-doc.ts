import { mdTable } from './report.ts';
import { round } from './stats.ts';

export interface FailoverRun {
  detectMs: number;
  readyMs: number;
  lost: number;
  survivorsAlive: boolean;
  afterKill: { placedOn: 'killed worker' | 'survivor' | 'refused'; active: boolean; error?: string };
  /** ms after the kill (Date.now() stamps, 1 ms resolution). */
  hops: { exitSeen: number; respawned: number; registering: number; prewarming: number; ready: number };
}

/** docs/benchmarks/failover.md (layout; the method text is added with the final figures). */
export function failoverDoc(r: Record<string, unknown>, runs: FailoverRun[]): string {
  const table = mdTable(
    [
      'run',
      'detect ms',
      'ready ms',
      'exit seen',
      'respawned',
      'registering',
      'prewarming',
      'dispatch after kill',
    ],
    runs.map((x, i) => [
      i + 1,
      round(x.detectMs),
      round(x.readyMs),
      x.hops.exitSeen,
      x.hops.respawned,
      x.hops.registering,
      x.hops.prewarming,
      `${x.afterKill.placedOn}, ${x.afterKill.active ? 'active' : 'not active'}`,
    ]),
  );
  return `# failover\n\n${table}\n\n\`\`\`json\n${JSON.stringify(r)}\n\`\`\`\n`;
}
