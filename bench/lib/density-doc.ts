import { mdTable } from './report.ts';

export interface DensityRow {
  n: number;
  pool: {
    rss_mb: number;
    pss_mb: number;
    pss_mb_idle: number;
    pss_mb_per_session: number;
    rss_mb_per_session: number;
    sessions_hearing_speech: number;
  };
  process_per_job: {
    rss_mb: number;
    pss_mb: number;
    pss_mb_per_session: number;
    rss_mb_per_session: number;
    fixed_pss_mb: number;
  };
  ratio_pss_per_session: number;
}

/** docs/benchmarks/density.md: the table of every N, and how it was measured. */
export function densityDoc(
  r: { runs: DensityRow[]; hardware: unknown; ratio_pss_per_session: number; n: number },
  o: { audioMs: number; settleMs: number },
): string {
  const table = mdTable(
    [
      'N',
      'pool worker PSS (idle → loaded)',
      'pool PSS / session',
      'agents-js PSS (N job procs)',
      'agents-js PSS / session',
      'ratio',
    ],
    r.runs.map((x) => [
      x.n,
      `${x.pool.pss_mb_idle} → ${x.pool.pss_mb} MB`,
      `${x.pool.pss_mb_per_session} MB`,
      `${x.process_per_job.pss_mb} MB`,
      `${x.process_per_job.pss_mb_per_session} MB`,
      `${x.ratio_pss_per_session}×`,
    ]),
  );
  return `# density: memory per voice session\n\n${table}\n\naudio ${o.audioMs} ms, settle ${o.settleMs} ms\n\n\`\`\`json\n${JSON.stringify(r.hardware)}\n\`\`\`\n`;
}
