import { createRoomDriver } from '../livekit/room-driver.ts';
import { VoiceSession } from '../voice/session-runner.ts';
import type { DriverArgs, SessionDriver } from './driver.ts';

/**
 * The session driver of a worker: one real voice.AgentSession per session, on the worker's
 * shared Silero VAD. The agent module is imported by path inside this process (Node caches it).
 */
export function createVoiceDriver(args: DriverArgs): SessionDriver {
  const { spec, start, events, log } = args;
  const { transport } = start;
  // A LiveKit job joins its room, with a JobContext (src/runtime/livekit).
  if (transport.kind === 'livekit') return createRoomDriver(args);
  const voice = new VoiceSession({
    id: start.session,
    agent: spec.module,
    transport,
    log,
    defaults: {
      ...(spec.greeting ? { greeting: spec.greeting } : {}),
      ...(spec.providers ? { providers: spec.providers } : {}),
    },
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
