import { initializeLogger, loggerOptions } from '@livekit/agents';

/**
 * agents-js refuses to run before its logger exists. If the process has not set it up, this does,
 * at `OPENRTC_AGENTS_LOG_LEVEL` (default 'warn'). Note: agents-js's logger writes to stdout.
 */
export function ensureAgentsLogger(): void {
  if (loggerOptions()) return;
  initializeLogger({ pretty: false, level: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'warn' });
}
