import { pino } from 'pino';
import type { Logger } from '../../src/runtime/logger.ts';
import { testOutput } from './output.ts';

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
}

/**
 * A real pino logger whose lines are kept in memory, so tests can assert on what was logged; they
 * also go to the test's output buffer, printed if the test fails.
 */
export function captureLog(base: Record<string, string> = {}): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug', base },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
        testOutput.write(line);
      },
    },
  );
  return { log, lines };
}
