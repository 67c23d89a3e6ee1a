import { voice as agentsVoice, getJobContext, type JobContext, type voice } from '@livekit/agents';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AgentsJsAgent } from '../../src/runtime/agents/agents-js.ts';
import { type AgentDefinition, defineAgent } from '../../src/runtime/agents/define.ts';
import { EntryAgentSession } from '../../src/runtime/agents/entry-agent.ts';
import { RoomSessionTransport } from '../../src/runtime/livekit/room-session-transport.ts';
import { VoiceSession } from '../../src/runtime/voice/session-runner.ts';
import { loadSharedVad } from '../../src/runtime/voice/vad.ts';
import { JoinedRoom } from '../support/joined-room.ts';
import { closedPortUrl, roomJob } from '../support/livekit-server-double.ts';

/**
 * The agent-facing JobContext (agents-js's own JobContext and AgentSession) around the room join
 * and the job's end, compared with agents-js's job runner (agents/src/ipc/job_proc_lazy_main.ts,
 * job_lifecycle.ts, job.ts). No LiveKit server runs here, so the join is a JoinedRoom (an rtc-node
 * Room whose connect and disconnect need no server); the rest is the real session driver.
 */
const log = pino({ level: 'silent' });

/** Two shutdown callbacks that record when they start and end; each yields once in between. */
function addRecordingCallbacks(ctx: JobContext, steps: string[]): void {
  for (const name of ['cb1', 'cb2']) {
    ctx.addShutdownCallback(async () => {
      steps.push(`${name}:start${getJobContext(false) === ctx ? '' : ':no-context'}`);
      await new Promise((resolve) => setImmediate(resolve));
      steps.push(`${name}:end`);
    });
  }
}

/** Records when agents-js's own end-of-session step (`ctx._onSessionEnd()`: the report) runs. */
function traceReportStep(ctx: JobContext, steps: string[]): void {
  const makeReport = ctx._onSessionEnd.bind(ctx);
  ctx._onSessionEnd = async () => {
    steps.push('ctx._onSessionEnd');
    await makeReport();
  };
}

interface Seen {
  roomName?: string | undefined;
  connected?: boolean;
  participant?: string;
  report?: { jobId: string; room: string; roomId: string };
}

function roomSession(opts: {
  id: string;
  room: string;
  steps: string[];
  seen: Seen;
  agentModule?: string;
  url?: string;
  join?: boolean;
  /** The agent factory awaits ctx.waitForParticipant() (default true). */
  waitForCaller?: boolean;
}) {
  const job = roomJob(opts.room);
  const { steps, seen } = opts;
  const definition: AgentDefinition = {
    name: 'support',
    providers: { vad: null },
    agent: async () => {
      const ctx = getJobContext();
      steps.push('factory');
      seen.roomName = ctx.room.name;
      seen.connected = ctx.room.isConnected;
      if (opts.waitForCaller !== false) seen.participant = (await ctx.waitForParticipant()).identity;
      addRecordingCallbacks(ctx, steps);
      traceReportStep(ctx, steps);
      return new agentsVoice.Agent({ instructions: 'You help.' });
    },
    onSessionEnd: (ctx) => {
      steps.push('onSessionEnd');
      const report = ctx.makeSessionReport();
      seen.report = { jobId: report.jobId, room: report.room, roomId: report.roomId };
    },
  };
  const transport = new RoomSessionTransport({
    url: opts.url ?? 'ws://127.0.0.1:7880',
    token: `token-of-${opts.id}`,
    job: job.toJson() as Record<string, unknown>,
    agentName: 'support',
    ...(opts.agentModule ? { agentModule: opts.agentModule } : {}),
    ...(opts.join === false ? {} : { createRoom: () => new JoinedRoom(opts.room, steps) }),
  });
  const session = new VoiceSession({ id: opts.id, agent: defineAgent(definition), transport, log });
  return { job, session, transport };
}

describe("the agent-facing context of an openrtc agent's LiveKit session", () => {
  it('the factories run after the room join: ctx.room is the joined room and waitForParticipant() resolves in them', async () => {
    const steps: string[] = [];
    const seen: Seen = {};
    const { session, transport } = roomSession({ id: 'c1', room: 'support-1', steps, seen });
    await session.prewarm();
    // Prewarm builds the JobContext only: agents-js runs user code once the job starts, and its
    // entry builds the agent after ctx.connect().
    expect(transport.jobContext?.room.name).toBeUndefined();
    expect(steps).toEqual([]);
    await session.connect(1);
    expect(steps).toEqual(['join', 'factory']);
    expect(seen).toMatchObject({ roomName: 'support-1', connected: true, participant: 'caller-1' });
    await session.close();
  });

  it('a join that fails runs no factory', async () => {
    const steps: string[] = [];
    const { session } = roomSession({
      id: 'c2',
      room: 'support-2',
      steps,
      seen: {},
      url: await closedPortUrl(),
      join: false,
    });
    await session.prewarm();
    await expect(session.connect(1)).rejects.toMatchObject({ code: 'connect_failed' });
    expect(steps).toEqual([]);
    await session.close('failed');
  });

  it("ends the job in agents-js's order: session closed, onSessionEnd with its session report, ctx._onSessionEnd(), the room left, then the shutdown callbacks concurrently in the job's context", async () => {
    const steps: string[] = [];
    const seen: Seen = {};
    const { job, session } = roomSession({
      id: 'c3',
      room: 'support-3',
      steps,
      seen,
      waitForCaller: false,
    });
    await session.connect(1);
    await session.close();
    expect(steps).toEqual([
      'join',
      'factory',
      'onSessionEnd',
      'ctx._onSessionEnd',
      'leave',
      'cb1:start',
      'cb2:start',
      'cb1:end',
      'cb2:end',
    ]);
    expect(seen.report).toEqual({ jobId: job.id, room: 'support-3', roomId: job.room?.sid });
  });

  it("ctx.proc is the agent's own: shared by the agent's sessions, not by another agent's; userData.vad is the worker's VAD", async () => {
    const procs: JobContext['proc'][] = [];
    const sessions = ['dental.ts', 'dental.ts', 'vet.ts'].map((agentModule, i) => {
      const r = roomSession({
        id: `p${i}`,
        room: `room-${i}`,
        steps: [],
        seen: {},
        agentModule,
        waitForCaller: false,
      });
      return r;
    });
    for (const { session, transport } of sessions) {
      await session.prewarm();
      procs.push((transport.jobContext as JobContext).proc);
    }
    const [a, b, c] = procs as [JobContext['proc'], JobContext['proc'], JobContext['proc']];
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    a.userData.owner = 'dental';
    expect(c.userData.owner).toBeUndefined();
    expect(c.userData.vad).toBe((await loadSharedVad()).vad);
    await Promise.all(sessions.map(({ session }) => session.close()));
  });
});

describe('the agent-facing context of an agents-js entry agent', () => {
  it("ends the job in agents-js's order: onSessionEnd with its session report, ctx._onSessionEnd(), the room left, the shutdown callbacks concurrently", async () => {
    const steps: string[] = [];
    const seen: Seen = {};
    const job = roomJob('entry-1');
    let agentSession: voice.AgentSession | undefined;
    const agent: AgentsJsAgent = {
      entry: async (ctx) => {
        await ctx.connect();
        seen.participant = (await ctx.waitForParticipant()).identity;
        addRecordingCallbacks(ctx, steps);
        traceReportStep(ctx, steps);
        agentSession = new agentsVoice.AgentSession({});
        await agentSession.start({
          agent: new agentsVoice.Agent({ instructions: 'You help.' }),
          room: ctx.room,
          outputOptions: { audioEnabled: false },
        });
        steps.push('started');
      },
      onSessionEnd: (ctx) => {
        steps.push('onSessionEnd');
        const report = ctx.makeSessionReport();
        seen.report = { jobId: report.jobId, room: report.room, roomId: report.roomId };
      },
    };
    const driver = new EntryAgentSession({
      id: 'e1',
      file: '/agents/entry-1.ts',
      agent,
      agentName: 'entry',
      transport: { url: 'ws://127.0.0.1:7880', token: 't', job: job.toJson() as Record<string, unknown> },
      events: { transportEnded: () => {}, speech: () => {}, error: () => {} },
      log,
      createRoom: () => new JoinedRoom('entry-1', steps),
    });
    await driver.prewarm();
    await driver.connect(1);
    await expect.poll(() => steps.includes('started')).toBe(true);
    await driver.close();
    expect(steps).toEqual([
      'join',
      'started',
      'onSessionEnd',
      'ctx._onSessionEnd',
      'leave',
      'cb1:start',
      'cb2:start',
      'cb1:end',
      'cb2:end',
    ]);
    expect(seen).toMatchObject({
      participant: 'caller-1',
      report: { jobId: job.id, room: 'entry-1', roomId: job.room?.sid },
    });
  });
});
