import { pino } from 'pino';
import type { Logger } from '../../src/runtime/logger.ts';

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
}

/** A real pino logger whose lines are kept in memory, so tests can assert on what was logged. */
export function captureLog(base: Record<string, string> = {}): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug', base },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}
