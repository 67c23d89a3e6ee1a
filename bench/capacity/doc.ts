import { mdTable } from '../lib/report.ts';
import type { Verdict } from './verdict.ts';

type Side = { limit: number; probes: Verdict[] };

const row = (side: string, v: Verdict) => [
  side,
  v.n,
  v.pass ? 'yes' : `no (${v.reasons.join('; ')})`,
  v.loop.p99Ms.toFixed(1),
  v.loop.elu.toFixed(2),
  v.loop.cpuCores.toFixed(2),
  Number.isNaN(v.lateMaxMs) ? '-' : Math.round(v.lateMaxMs),
  v.slowWarnings,
  Math.round(v.loop.rssMb),
];

/** docs/benchmarks/capacity.md (placeholder layout; the method section is added by the final doc). */
export function capacityDoc(
  r: Record<string, unknown> & { hardware: unknown },
  o: { floor: Side; pool: Side; settleMs: number },
): string {
  const table = mdTable(
    [
      'side',
      'N',
      'sustained',
      'loop p99 ms',
      'ELU',
      'CPU cores',
      'latest boundary ms',
      'Silero lag warnings',
      'RSS MB',
    ],
    [...o.floor.probes.map((v) => row('vad-only', v)), ...o.pool.probes.map((v) => row('pool', v))],
  );
  return `# capacity\n\n${table}\n\n\`\`\`json\n${JSON.stringify(r)}\n\`\`\`\n`;
}
