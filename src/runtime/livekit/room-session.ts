import {
  JobContext,
  type RunningJobInfo,
  runWithJobContextAsync,
  type VAD,
  type voice,
} from '@livekit/agents';
import { Job } from '@livekit/protocol';
import { ParticipantKind, type RemoteParticipant, Room, RoomEvent } from '@livekit/rtc-node';
import type { AgentDefinition, PoolDefaults } from '../agents/define.ts';
import { type AgentInstance, instantiateAgent } from '../agents/instantiate.ts';
import type { Logger } from '../logger.ts';
import {
  createAgentSession,
  deliverGreeting,
  errorMessage,
  resolveDefinition,
  VoiceSessionError,
  watchAgentSession,
} from '../voice/agent-session.ts';
import { ensureAgentsLogger } from '../voice/agents-log.ts';
import type { VoiceSessionEvents } from '../voice/session-runner.ts';
import { SessionVad } from '../voice/session-vad.ts';
import { sharedJobProcess } from './job-process.ts';
import { agentIdentity } from './options.ts';

export interface RoomSessionOptions {
  id: string;
  /** The agent: its definition, or the path of its module (imported in prewarm). */
  agent: AgentDefinition | string;
  /** The agent's registered name (the participant's name in the room). */
  agentName: string;
  /** The job as LiveKit assigned it: url, token, and the Job as protobuf JSON. */
  transport: { kind: 'livekit'; url: string; token: string; job: Record<string, unknown> };
  /** Pool defaults (greeting, provider model strings) for what the agent module leaves unset. */
  defaults?: PoolDefaults;
  /** End the session when the last remote participant (not an agent) leaves. Default true. */
  closeOnLastParticipantLeft?: boolean;
  events?: VoiceSessionEvents;
  log?: Logger;
}

/** agents-js hands this to plugins that run models in its inference process, which a pool worker has not. */
const noInferenceExecutor: ConstructorParameters<typeof JobContext>[5] = {
  doInference: async (method) => {
    throw new Error(`openrtc workers have no agents-js inference process (asked for '${method}')`);
  },
};

/**
 * Drives one real voice.AgentSession in a LiveKit room, in the phases the session machine invokes:
 * prewarm (agent, providers, a JobContext on the worker's shared JobProcess) → connect (join the
 * room with the job's url and token, start the session with RoomIO) → greet → close. User code
 * runs inside the session's JobContext, so `getJobContext()` sees this job and this room.
 */
export class LiveKitRoomSession {
  readonly id: string;
  private readonly events: VoiceSessionEvents;
  private definition: AgentDefinition | undefined;
  private instance: AgentInstance | undefined;
  private sessionVad: SessionVad | undefined;
  private session: voice.AgentSession | undefined;
  private room: Room | undefined;
  private ctx: JobContext | undefined;
  private joining: Promise<void> | undefined;
  private connected = false;
  private closing: Promise<void> | undefined;
  private speeches = 0;
  private errors: string[] = [];
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly opts: RoomSessionOptions) {
    this.id = opts.id;
    this.events = opts.events ?? {};
  }

  /** The session's JobContext, once prewarmed. */
  get jobContext(): JobContext | undefined {
    return this.ctx;
  }

  /** Loads the agent module, builds a JobContext and, inside it, the agent, providers and AgentSession. */
  async prewarm(): Promise<void> {
    this.assertOpen('prewarm');
    ensureAgentsLogger();
    this.definition ??= await resolveDefinition(this.opts.agent, this.opts.defaults);
    if (this.session) return;
    try {
      const ctx = this.ctx ?? (await this.buildJobContext());
      this.instance = await runWithJobContextAsync(ctx, () =>
        instantiateAgent(this.definition as AgentDefinition),
      );
      const vad = await this.resolveVad(this.instance.vad);
      this.session = this.buildSession(this.instance, vad);
    } catch (err) {
      throw new VoiceSessionError('prewarm_failed', errorMessage(err), { cause: err });
    }
    this.assertOpen('prewarm');
  }

  /** Joins the room (one join in flight at a time) and starts the AgentSession on it. */
  async connect(attempt = 1): Promise<void> {
    this.assertOpen('connect');
    if (this.connected) return;
    if (!this.session || !this.instance || !this.ctx) await this.prewarm();
    const ctx = this.ctx as JobContext;
    const room = this.room as Room;
    // A timed-out attempt leaves rtc-node's join running; the next attempt waits for that one.
    this.joining ??= ctx.connect().finally(() => {
      this.joining = undefined;
      if (this.closing && room.isConnected) void room.disconnect().catch(() => {});
    });
    try {
      await this.joining;
    } catch (err) {
      throw new VoiceSessionError('connect_failed', `attempt ${attempt}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.assertOpen('connect');
    const session = this.session as voice.AgentSession;
    const alone = this.opts.closeOnLastParticipantLeft !== false;
    try {
      await runWithJobContextAsync(ctx, () =>
        session.start({
          agent: (this.instance as AgentInstance).agent,
          room,
          inputOptions: { closeOnDisconnect: alone },
          // With no TTS, agents-js refuses to say() into an audio output: the agent speaks text only.
          outputOptions: { audioEnabled: this.instance?.tts !== undefined },
        }),
      );
    } catch (err) {
      if (this.session === session) {
        this.session = undefined; // a failed start is rebuilt from scratch; the room stays joined
        this.instance = undefined;
      }
      throw new VoiceSessionError('connect_failed', `attempt ${attempt}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.assertOpen('connect');
    this.connected = true;
    this.watchRoom(room, alone);
  }

  /** Says the greeting (or generates it from instructions) into the room; resolves once delivered. */
  async greet(): Promise<void> {
    this.assertOpen('greet');
    const greeting = this.definition?.greeting;
    if (!greeting) return;
    const session = this.session;
    if (!session || !this.connected || !this.ctx)
      throw new VoiceSessionError('greet_failed', 'greet before connect');
    const hasLlm = Boolean(this.instance?.llm);
    await runWithJobContextAsync(this.ctx, () =>
      deliverGreeting(session, greeting, { errors: this.errors, hasLlm }),
    );
  }

  /** Closes the AgentSession, runs the job's shutdown callbacks, then leaves the room; idempotent. */
  close(reason = 'ended'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: string): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    let failure: unknown;
    try {
      await this.session?.close();
    } catch (err) {
      failure = err;
    }
    const ctx = this.ctx;
    for (const callback of ctx?.shutdownCallbacks.splice(0) ?? []) {
      try {
        await (ctx ? runWithJobContextAsync(ctx, callback) : callback());
      } catch (err) {
        this.opts.log?.warn({ session: this.id, err: errorMessage(err) }, 'job shutdown callback failed');
      }
    }
    try {
      await this.room?.disconnect();
    } catch (err) {
      failure ??= err;
    }
    this.opts.log?.debug({ session: this.id, reason, speeches: this.speeches }, 'room session closed');
    this.session = undefined;
    this.instance = undefined;
    this.sessionVad = undefined;
    if (failure)
      throw new VoiceSessionError('internal', `close: ${errorMessage(failure)}`, { cause: failure });
  }

  private async buildJobContext(): Promise<JobContext> {
    const { transport, agentName } = this.opts;
    let job: Job;
    try {
      job = Job.fromJson(transport.job as never, { ignoreUnknownFields: true });
    } catch (err) {
      throw new Error(`the job is not a LiveKit Job: ${errorMessage(err)}`);
    }
    const info: RunningJobInfo = {
      acceptArguments: { name: agentName, identity: agentIdentity(job.id), metadata: '' },
      job,
      url: transport.url,
      token: transport.token,
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
      (why) => this.events.transportEnded?.(`job_shutdown${why ? `: ${why}` : ''}`),
      noInferenceExecutor,
    );
    this.room = room;
    this.ctx = ctx;
    return ctx;
  }

  private async resolveVad(choice: AgentInstance['vad']): Promise<VAD | null> {
    if (choice === null) return null;
    if (this.sessionVad) return this.sessionVad;
    const vad = choice === 'shared' ? ((await sharedJobProcess()).userData.vad as VAD) : choice;
    this.sessionVad = new SessionVad(vad, { onSpeech: (e) => this.onSpeech(e.kind, e.atMs) });
    return this.sessionVad;
  }

  private buildSession(inst: AgentInstance, vad: VAD | null): voice.AgentSession {
    const session = createAgentSession(inst, vad);
    this.unsubscribe.push(
      watchAgentSession(session, {
        id: this.id,
        ...(this.opts.log ? { log: this.opts.log } : {}),
        events: this.events,
        errors: this.errors,
        ended: () => Boolean(this.closing) || !this.connected,
      }),
    );
    return session;
  }

  /** `active` lasts until the room goes away or, if so configured, the last caller leaves. */
  private watchRoom(room: Room, alone: boolean): void {
    const onDisconnected = (reason: unknown) => {
      if (!this.closing) this.events.transportEnded?.(`room_disconnected:${String(reason)}`);
    };
    const onLeft = (p: RemoteParticipant) => {
      if (!alone || this.closing) return;
      const callers = [...room.remoteParticipants.values()].filter(
        (r) => r.info.kind !== ParticipantKind.AGENT,
      );
      if (callers.length === 0) this.events.transportEnded?.(`last_participant_left:${p.identity}`);
    };
    room.on(RoomEvent.Disconnected, onDisconnected);
    room.on(RoomEvent.ParticipantDisconnected, onLeft);
    this.unsubscribe.push(() => {
      room.off(RoomEvent.Disconnected, onDisconnected);
      room.off(RoomEvent.ParticipantDisconnected, onLeft);
    });
  }

  private onSpeech(kind: 'start' | 'end', atMs: number): void {
    if (this.closing) return;
    if (kind === 'start') this.speeches += 1;
    this.events.speech?.({ kind, atMs, speechCount: this.speeches });
  }

  private assertOpen(phase: string): void {
    if (this.closing) throw new VoiceSessionError('internal', `${phase} after close`);
  }
}
