import { JobContext, type RunningJobInfo, runWithJobContextAsync, type voice } from '@livekit/agents';
import { Job } from '@livekit/protocol';
import { ParticipantKind, type RemoteParticipant, Room, RoomEvent } from '@livekit/rtc-node';
import { toErrorData } from '../../protocol/errors.ts';
import type { AgentInstance } from '../agents/instantiate.ts';
import type { SessionTransport, TransportHost } from '../voice/session-transport.ts';
import { sharedJobProcess } from './job-process.ts';
import { agentIdentity } from './options.ts';

export interface RoomSessionTransportOptions {
  /** The job as LiveKit assigned it: url, token, and the Job as protobuf JSON. */
  url: string;
  token: string;
  job: Record<string, unknown>;
  /** The agent's registered name (the participant's name in the room). */
  agentName: string;
  /** End the session when the last remote participant (not an agent) leaves. Default true. */
  closeOnLastParticipantLeft?: boolean;
}

/** agents-js hands this to plugins that run models in its inference process, which a pool worker has not. */
const noInferenceExecutor: ConstructorParameters<typeof JobContext>[5] = {
  doInference: async (method) => {
    throw new Error(`openrtc workers have no agents-js inference process (asked for '${method}')`);
  },
};

/**
 * The LiveKit transport: a JobContext per session on the worker's shared JobProcess (built at
 * prewarm, so user code's `getJobContext()` sees this job and room), a join of the job's room with
 * its url and token, and the AgentSession started on the room. It ends when the room goes away,
 * when user code shuts the job down, or (if so configured) when the last caller leaves.
 */
export class RoomSessionTransport implements SessionTransport {
  readonly kind = 'livekit';
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

  /** Runs the job's shutdown callbacks (in its context), then leaves the room. */
  async close(): Promise<void> {
    const ctx = this.ctx;
    for (const callback of ctx?.shutdownCallbacks.splice(0) ?? []) {
      try {
        await (ctx ? runWithJobContextAsync(ctx, callback) : callback());
      } catch (err) {
        this.host?.log?.warn(
          { session: this.host.id, err: toErrorData(err) },
          'job shutdown callback failed',
        );
      }
    }
    await this.room?.disconnect();
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
    const room = new Room();
    const ctx = new JobContext(
      await sharedJobProcess(),
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
