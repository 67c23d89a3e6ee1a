import { JobContext, type RunningJobInfo, runWithJobContextAsync, type voice } from '@livekit/agents';
import { Job } from '@livekit/protocol';
import { ParticipantKind, type RemoteParticipant, Room, RoomEvent } from '@livekit/rtc-node';
import { toErrorData } from '../../protocol/errors.ts';
import type { AgentInstance } from '../agents/instantiate.ts';
import type { SessionEnd, SessionTransport, TransportHost } from '../voice/session-transport.ts';
import { endJob } from './job-end.ts';
import { agentJobProcess } from './job-process.ts';
import { agentIdentity } from './options.ts';

export interface RoomSessionTransportOptions {
  /** The job as LiveKit assigned it: url, token, and the Job as protobuf JSON. */
  url: string;
  token: string;
  job: Record<string, unknown>;
  /** The agent's registered name (the participant's name in the room). */
  agentName: string;
  /** The agent's module path: its JobProcess (`ctx.proc`) is this agent's own. Default: agentName. */
  agentModule?: string;
  /** End the session when the last remote participant (not an agent) leaves. Default true. */
  closeOnLastParticipantLeft?: boolean;
  /** The job's Room; default `new Room()` from rtc-node (tests give a Room subclass that joins without a server). */
  createRoom?: () => Room;
}

/** agents-js hands this to plugins that run models in its inference process, which a pool worker has not. */
const noInferenceExecutor: ConstructorParameters<typeof JobContext>[5] = {
  doInference: async (method) => {
    throw new Error(`openrtc workers have no agents-js inference process (asked for '${method}')`);
  },
};

/**
 * The LiveKit transport: a JobContext per session on the agent's JobProcess in this worker (built
 * at prewarm, so user code's `getJobContext()` sees this job and room), a join of the job's room
 * with its url and token, then the agent's factories (after the join, as an agents-js entry builds
 * its agent after `ctx.connect()`: `ctx.room` is the joined room) and the AgentSession started on
 * the room. It ends when the room goes away, when user code shuts the job down, or (if so
 * configured) when the last caller leaves; it ends the job as agents-js does (job-end.ts).
 */
export class RoomSessionTransport implements SessionTransport {
  readonly kind = 'livekit';
  readonly buildsAfterOpen = true;
  private host: TransportHost | undefined;
  private room: Room | undefined;
  private ctx: JobContext | undefined;
  private joining: Promise<void> | undefined;

  constructor(private readonly opts: RoomSessionTransportOptions) {}

  /** The session's JobContext, once prewarmed. */
  get jobContext(): JobContext | undefined {
    return this.ctx;
  }

  bind(host: TransportHost): void {
    if (this.host) throw new Error('a transport serves one session');
    this.host = host;
  }

  async prepare(): Promise<void> {
    this.ctx ??= await this.buildJobContext();
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.ctx ? runWithJobContextAsync(this.ctx, fn) : fn();
  }

  /** Joins the room; one join in flight at a time. */
  async open(): Promise<void> {
    const { ctx, room } = this.prepared();
    const host = this.bound();
    // A timed-out attempt leaves rtc-node's join running; the next attempt waits for that one.
    this.joining ??= ctx.connect().finally(() => {
      this.joining = undefined;
      if (host.closing && room.isConnected) void room.disconnect().catch(() => {});
    });
    await this.joining;
  }

  async start(session: voice.AgentSession, instance: AgentInstance): Promise<void> {
    const { room } = this.prepared();
    await session.start({
      agent: instance.agent,
      room,
      inputOptions: { closeOnDisconnect: this.endsWithLastCaller },
      // With no TTS, agents-js refuses to say() into an audio output: the agent speaks text only.
      outputOptions: { audioEnabled: instance.tts !== undefined },
    });
  }

  /** `active` lasts until the room goes away or, if so configured, the last caller leaves. */
  watch(): () => void {
    const { room } = this.prepared();
    const host = this.bound();
    const alone = this.endsWithLastCaller;
    const onDisconnected = (reason: unknown) => {
      if (!host.closing) host.ended(`room_disconnected:${String(reason)}`);
    };
    const onLeft = (p: RemoteParticipant) => {
      if (!alone || host.closing) return;
      const callers = [...room.remoteParticipants.values()].filter(
        (r) => r.info.kind !== ParticipantKind.AGENT,
      );
      if (callers.length === 0) host.ended(`last_participant_left:${p.identity}`);
    };
    room.on(RoomEvent.Disconnected, onDisconnected);
    room.on(RoomEvent.ParticipantDisconnected, onLeft);
    return () => {
      room.off(RoomEvent.Disconnected, onDisconnected);
      room.off(RoomEvent.ParticipantDisconnected, onLeft);
    };
  }

  /**
   * After the AgentSession closed, as agents-js ends a job: `onSessionEnd(ctx)` and the session
   * report, then the room is left, then the job's shutdown callbacks run concurrently.
   */
  async close(end?: SessionEnd): Promise<void> {
    const { ctx, room } = this;
    if (!ctx || !room) return;
    await endJob({
      ctx,
      sessionClosed: end?.sessionClosed ?? true,
      onSessionEnd: end?.onSessionEnd,
      disconnect: () => room.disconnect(),
      log: this.host?.log,
      session: this.host?.id ?? '',
    });
  }

  private get endsWithLastCaller(): boolean {
    return this.opts.closeOnLastParticipantLeft !== false;
  }

  private bound(): TransportHost {
    if (!this.host) throw new Error('the transport is not bound to a session');
    return this.host;
  }

  private prepared(): { ctx: JobContext; room: Room } {
    if (!this.ctx || !this.room) throw new Error('the room transport is used before prewarm');
    return { ctx: this.ctx, room: this.room };
  }

  private async buildJobContext(): Promise<JobContext> {
    const { url, token, agentName } = this.opts;
    let job: Job;
    try {
      job = Job.fromJson(this.opts.job as never, { ignoreUnknownFields: true });
    } catch (err) {
      throw new Error(`the job is not a LiveKit Job: ${toErrorData(err).message}`);
    }
    const info: RunningJobInfo = {
      acceptArguments: { name: agentName, identity: agentIdentity(job.id), metadata: '' },
      job,
      url,
      token,
      workerId: job.state?.workerId ?? '',
      // Only ctx.deleteRoom() needs them; a worker has them when its environment does.
      ...(process.env.LIVEKIT_API_KEY ? { apiKey: process.env.LIVEKIT_API_KEY } : {}),
      ...(process.env.LIVEKIT_API_SECRET ? { apiSecret: process.env.LIVEKIT_API_SECRET } : {}),
    };
    const room = this.opts.createRoom?.() ?? new Room();
    const ctx = new JobContext(
      await agentJobProcess(this.opts.agentModule ?? agentName),
      info,
      room,
      () => {},
      // User code ended the job (ctx.shutdown()): the session ends normally.
      (why) => this.bound().ended(`job_shutdown${why ? `: ${why}` : ''}`),
      noInferenceExecutor,
    );
    this.room = room;
    return ctx;
  }
}
