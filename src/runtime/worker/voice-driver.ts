import { createRoomDriver } from '../livekit/room-driver.ts';
import { LocalSessionTransport } from '../voice/local-session-transport.ts';
import { VoiceSession } from '../voice/session-runner.ts';
import { type DriverArgs, runnerOptions, type SessionDriver } from './driver.ts';

/**
 * The session driver of a worker: one real voice.AgentSession per session, on the worker's
 * shared Silero VAD. The agent module is imported by path inside this process (Node caches it).
 */
export function createVoiceDriver(args: DriverArgs): SessionDriver {
  const { spec, start } = args;
  const { transport } = start;
  // A LiveKit job joins its room, with a JobContext (src/runtime/livekit).
  if (transport.kind === 'livekit') return createRoomDriver(args);
  // VoiceSession has the driver's phases as its own methods.
  return new VoiceSession({
    id: start.session,
    agent: spec.module,
    transport: new LocalSessionTransport({ input: transport.input, output: transport.output }),
    ...runnerOptions(args),
  });
}
