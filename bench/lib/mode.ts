/**
 * How big a benchmark run is:
 *  - full:  the published figures; with `--write-docs` it writes docs/benchmarks/<name>.md;
 *  - quick: `--quick`, under 60 s per benchmark on 2 cores;
 *  - smoke: `--smoke`, the tiniest run that still exercises every part (CI runs it).
 * Only a full run with `--write-docs` writes a tracked file.
 */
export type Mode = 'full' | 'quick' | 'smoke';

/** The mode named on the command line (`--smoke` wins over `--quick`); full by default. */
export function benchMode(argv: readonly string[] = process.argv): Mode {
  if (argv.includes('--smoke')) return 'smoke';
  if (argv.includes('--quick')) return 'quick';
  return 'full';
}

/** Picks the setting for this mode. */
export function byMode<T>(mode: Mode, values: Record<Mode, T>): T {
  return values[mode];
}
