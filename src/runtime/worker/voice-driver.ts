import { VoiceSession } from '../voice/session-runner.ts';
import type { DriverArgs, SessionDriver } from './driver.ts';

/**
 * The session driver of a worker: one real voice.AgentSession per session, on the worker's
 * shared Silero VAD. The agent module is imported by path inside this process (Node caches it).
 */
export function createVoiceDriver({ spec, start, events, log }: DriverArgs): SessionDriver {
  const { transport } = start;
  if (transport.kind !== 'local') {
    const refusal = {
      code: 'connect_failed' as const,
      message: `transport '${transport.kind}' is not supported by this worker yet (only 'local')`,
    };
    return {
      prewarm: async () => {},
      connect: async () => Promise.reject(refusal),
      greet: async () => {},
      close: async () => {},
    };
  }
  const voice = new VoiceSession({
    id: start.session,
    agent: spec.module,
    transport,
    log,
    events: {
      transportEnded: (reason) => events.transportEnded(reason),
      speech: (e) => events.speech(e),
      error: (e) => events.error(e),
      message: (m) => log.info({ role: m.role, interrupted: m.interrupted }, `${m.role}: ${m.text}`),
    },
  });
  return {
    prewarm: () => voice.prewarm(),
    connect: (attempt) => voice.connect(attempt),
    greet: () => voice.greet(),
    close: (reason) => voice.close(reason),
  };
}
