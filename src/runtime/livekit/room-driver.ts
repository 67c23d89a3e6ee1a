import type { AgentSpec } from '../../protocol/index.ts';
import { entryAgentDriver } from '../agents/entry-agent.ts';
import { VoiceSession } from '../voice/session-runner.ts';
import { type DriverArgs, runnerOptions, type SessionDriver } from '../worker/driver.ts';
import { RoomSessionTransport } from './room-session-transport.ts';

/**
 * `options.livekit.closeOnLastParticipantLeft` of an agent module (default true): whether its
 * session ends when the last caller leaves the room, or stays until the room itself ends.
 */
export function closeOnLastParticipantLeft(spec: AgentSpec): boolean {
  const livekit = spec.options?.livekit;
  if (typeof livekit !== 'object' || livekit === null || Array.isArray(livekit)) return true;
  return (livekit as Record<string, unknown>).closeOnLastParticipantLeft !== false;
}

/** The session driver of a LiveKit job: one real voice.AgentSession in the job's room (the room transport). */
export function createRoomDriver(args: DriverArgs): SessionDriver {
  const { spec, start } = args;
  const { transport } = start;
  if (transport.kind !== 'livekit') throw new Error(`createRoomDriver: transport '${transport.kind}'`);
  // An agents-js module (defineAgent({ entry })) runs its own entry(ctx) in the room.
  const entry = entryAgentDriver(args);
  if (entry) return entry;
  return new VoiceSession({
    id: start.session,
    agent: spec.module,
    transport: new RoomSessionTransport({
      url: transport.url,
      token: transport.token,
      job: transport.job,
      agentName: spec.name,
      agentModule: spec.module,
      closeOnLastParticipantLeft: closeOnLastParticipantLeft(spec),
    }),
    ...runnerOptions(args),
  });
}
