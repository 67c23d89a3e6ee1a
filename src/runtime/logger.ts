import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Human-friendly colored lines (dev) instead of JSON (start/production). */
  pretty?: boolean;
  level?: string;
  /** Fields on every line: pool, worker, ... */
  base?: Record<string, string | number>;
}

/** The one logger: pino to stderr, so stdout stays free for command output (`--json`). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.OPENRTC_LOG_LEVEL ?? 'info';
  const base = { ...opts.base };
  if (opts.pretty) {
    return pino({
      level,
      base,
      transport: {
        target: 'pino-pretty',
        options: {
          destination: 2,
          colorize: process.stderr.isTTY,
          ignore: 'pid,hostname',
          translateTime: 'HH:MM:ss.l',
          singleLine: true,
        },
      },
    });
  }
  return pino({ level, base }, pino.destination({ fd: 2, sync: true }));
}
