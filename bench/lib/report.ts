import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../src/runtime/logger.ts';
import type { Mode } from './mode.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The benchmark's own progress log: pino on stderr, so stdout carries only the JSON line. */
export function benchLog(bench: string): Logger {
  return createLogger({ level: process.env.OPENRTC_BENCH_LOG ?? 'info', base: { bench } });
}

/** A quiet logger for the pool under test (warnings and errors only, to stderr). */
export function poolLog(base: Record<string, string>): Logger {
  return createLogger({ level: process.env.OPENRTC_LOG_LEVEL ?? 'warn', base });
}

/** A logger whose lines are kept in memory with their timestamps (for per-hop timings). */
export function memoryLog(base: Record<string, string>): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info', base },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}

/** Prints the one JSON line of a benchmark on stdout. */
export function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * Writes docs/benchmarks/<name>.md, only for a full run asked to (`--write-docs`): any other run
 * leaves `git status` clean. Returns the path written, if any.
 */
export function writeDoc(mode: Mode, name: string, markdown: string): string | undefined {
  if (mode !== 'full' || !process.argv.includes('--write-docs')) return undefined;
  const path = `${ROOT}docs/benchmarks/${name}.md`;
  writeFileSync(path, markdown);
  return path;
}

/** A markdown table. */
export function mdTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Runs `main`, and exits non-zero with the error on stderr if it throws (no JSON line then). */
export function runBench(main: () => Promise<void>): void {
  // agents-js's logger writes to stdout; in this process too, stdout is for the JSON line only.
  process.env.OPENRTC_AGENTS_LOG_LEVEL ??= 'silent';
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
