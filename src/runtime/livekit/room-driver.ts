import type { AgentSpec } from '../../protocol/index.ts';
import type { DriverArgs, SessionDriver } from '../worker/driver.ts';
import { LiveKitRoomSession } from './room-session.ts';

/**
 * `options.livekit.closeOnLastParticipantLeft` of an agent module (default true): whether its
 * session ends when the last caller leaves the room, or stays until the room itself ends.
 */
export function closeOnLastParticipantLeft(spec: AgentSpec): boolean {
  const livekit = spec.options?.livekit;
  if (typeof livekit !== 'object' || livekit === null || Array.isArray(livekit)) return true;
  return (livekit as Record<string, unknown>).closeOnLastParticipantLeft !== false;
}

/** The session driver of a LiveKit job: one real voice.AgentSession in the job's room. */
export function createRoomDriver({ spec, start, events, log }: DriverArgs): SessionDriver {
  const { transport } = start;
  if (transport.kind !== 'livekit') throw new Error(`createRoomDriver: transport '${transport.kind}'`);
  const session = new LiveKitRoomSession({
    id: start.session,
    agent: spec.module,
    agentName: spec.name,
    transport,
    closeOnLastParticipantLeft: closeOnLastParticipantLeft(spec),
    defaults: {
      ...(spec.greeting ? { greeting: spec.greeting } : {}),
      ...(spec.providers ? { providers: spec.providers } : {}),
    },
    log,
    events: {
      transportEnded: (reason) => events.transportEnded(reason),
      speech: (e) => events.speech(e),
      error: (e) => events.error(e),
      message: (m) => log.info({ role: m.role, interrupted: m.interrupted }, `${m.role}: ${m.text}`),
    },
  });
  return {
    prewarm: () => session.prewarm(),
    connect: (attempt) => session.connect(attempt),
    greet: () => session.greet(),
    close: (reason) => session.close(reason),
  };
}
