import { getJobContext, type JobContext, voice } from '@livekit/agents';
import { Room } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/runtime/agents/define.ts';
import { closeOnLastParticipantLeft } from '../../src/runtime/livekit/room-driver.ts';
import { RoomSessionTransport } from '../../src/runtime/livekit/room-session-transport.ts';
import { VoiceSession } from '../../src/runtime/voice/session-runner.ts';
import { loadSharedVad } from '../../src/runtime/voice/vad.ts';
import { JoinedRoom } from '../support/joined-room.ts';
import { closedPortUrl, roomJob } from '../support/livekit-server-double.ts';

/** An agent whose factory records the job context it was built in (as user code would read it). */
function recordingAgent(seen: JobContext[]) {
  return defineAgent({
    name: 'support',
    agent: () => {
      seen.push(getJobContext());
      return new voice.Agent({ instructions: 'You help.' });
    },
  });
}

function roomSession(id: string, room: string, url: string, seen: JobContext[], joins = false) {
  const job = roomJob(room);
  const transport = new RoomSessionTransport({
    url,
    token: `token-of-${id}`,
    job: job.toJson() as Record<string, unknown>,
    agentName: 'support',
    // The factories run after the join; a JoinedRoom joins without a server.
    ...(joins ? { createRoom: () => new JoinedRoom(room, []) } : {}),
  });
  const session = new VoiceSession({ id, agent: recordingAgent(seen), transport });
  return { job, session, transport };
}

describe('a LiveKit room session on a worker (no LiveKit server: a JoinedRoom joins without one)', () => {
  it("user code sees its own job and room through getJobContext(); the agent's sessions share its JobProcess holding the worker's VAD", async () => {
    const seen: JobContext[] = [];
    const url = await closedPortUrl();
    const a = roomSession('s1', 'support-a', url, seen, true);
    const b = roomSession('s2', 'support-b', url, seen, true);
    await Promise.all([a.session.connect(1), b.session.connect(1)]);

    expect(seen.map((ctx) => ctx.job.id)).toEqual([a.job.id, b.job.id]);
    expect(seen.map((ctx) => ctx.job.room?.name)).toEqual(['support-a', 'support-b']);
    const [ctxA, ctxB] = seen as [JobContext, JobContext];
    expect(ctxA.room).toBeInstanceOf(Room);
    expect(ctxA.room).not.toBe(ctxB.room);
    expect(ctxA.info).toMatchObject({ url, token: 'token-of-s1' });
    expect(ctxA.info.acceptArguments.identity).toBe(`agent-${a.job.id}`);
    expect(ctxA.proc).toBe(ctxB.proc);
    expect(ctxA.proc.userData.vad).toBe((await loadSharedVad()).vad);
    await Promise.all([a.session.close(), b.session.close()]);
  });

  it("a join to an unreachable URL rejects with rtc-node's own error text, and close still releases", async () => {
    const { session } = roomSession('s3', 'support-c', await closedPortUrl(), []);
    await session.prewarm();
    const failure = await session.connect(1).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );
    expect(failure?.code).toBe('connect_failed');
    expect(failure?.message).toMatch(/^attempt 1: .*Connection refused/);
    await expect(session.close('failed')).resolves.toBeUndefined();
    await expect(session.connect(2)).rejects.toThrow(/connect after close/);
  });

  it('agents end with the last caller by default; options.livekit.closeOnLastParticipantLeft=false keeps them', () => {
    const spec = { name: 'support', module: '/x.ts' };
    expect(closeOnLastParticipantLeft(spec)).toBe(true);
    expect(
      closeOnLastParticipantLeft({ ...spec, options: { livekit: { closeOnLastParticipantLeft: false } } }),
    ).toBe(false);
    expect(closeOnLastParticipantLeft({ ...spec, options: { livekit: 'yes' } })).toBe(true);
  });
});
