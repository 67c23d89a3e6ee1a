import { JobContext, type RunningJobInfo, runWithJobContextAsync } from '@livekit/agents';
import { Job } from '@livekit/protocol';
import { Room, RoomEvent } from '@livekit/rtc-node';
import type { CloseReason } from '../../actors/session.types.ts';
import type { ErrorCode } from '../../protocol/common.ts';
import { toErrorData } from '../../protocol/errors.ts';
import { closeAgentSession, endJob } from '../livekit/job-end.ts';
import { agentIdentity } from '../livekit/options.ts';
import type { Logger } from '../logger.ts';
import { ensureAgentsLogger } from '../voice/agents-log.ts';
import type { DriverArgs, DriverEvents, SessionDriver } from '../worker/driver.ts';
import { type AgentsJsAgent, agentProcess } from './agents-js.ts';
import { loadedAgent } from './load.ts';

/** A phase of an entry agent's session failed; `code` is the protocol's error code. */
class EntryAgentError extends Error {
  override name = 'EntryAgentError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** agents-js hands this to plugins that run models in its inference process, which a pool worker has not. */
const noInferenceExecutor: ConstructorParameters<typeof JobContext>[5] = {
  doInference: async (method) => {
    throw new Error(`openrtc workers have no agents-js inference process (asked for '${method}')`);
  },
};

/**
 * The session driver of a LiveKit job for an agents-js module (`defineAgent({ prewarm, entry })`
 * from '@livekit/agents'), or undefined when the job's agent is not one. The worker imported every
 * registered module at prewarm, so the answer is known here.
 */
export function entryAgentDriver(args: DriverArgs): SessionDriver | undefined {
  const loaded = loadedAgent(args.spec.module);
  const { transport } = args.start;
  if (!loaded?.entry || transport.kind !== 'livekit') return undefined;
  return new EntryAgentSession({
    id: args.start.session,
    file: loaded.path,
    agent: loaded.entry,
    agentName: args.spec.name,
    transport,
    events: args.events,
    log: args.log,
  });
}

export interface EntryAgentSessionOptions {
  id: string;
  file: string;
  agent: AgentsJsAgent;
  agentName: string;
  transport: { url: string; token: string; job: Record<string, unknown> };
  events: DriverEvents;
  log: Logger;
  /** The job's Room; default `new Room()` from rtc-node (tests give a Room subclass that joins without a server). */
  createRoom?: () => Room;
}

/**
 * One LiveKit job of an agents-js module, as agents-js's job runner runs it, in a worker shared with
 * other sessions: a JobContext on the agent's own JobProcess (its prewarm ran once in this worker),
 * then `entry(ctx)` under that context. The session machine's phases map onto it:
 * - prewarm: the JobContext;
 * - connect: `entry(ctx)` starts, and the phase ends when it has joined the room (`ctx.connect()`),
 *   or fails when entry throws first;
 * - greet: nothing (entry greets, if it does);
 * - active: until the room goes away or entry calls `ctx.shutdown()`; entry throwing fails it;
 * - close: as agents-js ends a job (../livekit/job-end.ts): the agent's AgentSession closes, then
 *   `onSessionEnd(ctx)` and the session report, the room is left, and the job's shutdown callbacks
 *   run concurrently.
 */
export class EntryAgentSession implements SessionDriver {
  private ctx: JobContext | undefined;
  private room: Room | undefined;
  private entry: Promise<void> | undefined;
  private joined: Promise<void> | undefined;
  private settleJoin: { resolve(): void; reject(err: Error): void } | undefined;
  private connected = false;
  private active = false;
  private ended: string | undefined;
  private closing: Promise<void> | undefined;
  private unwatch: (() => void) | undefined;

  constructor(private readonly opts: EntryAgentSessionOptions) {}

  /** The session's JobContext, once prewarmed. */
  get jobContext(): JobContext | undefined {
    return this.ctx;
  }

  async prewarm(): Promise<void> {
    this.assertOpen('prewarm');
    if (this.ctx) return;
    ensureAgentsLogger();
    try {
      const proc = await agentProcess(this.opts.file, this.opts.agent);
      this.ctx = this.buildJobContext(proc);
    } catch (err) {
      throw new EntryAgentError('prewarm_failed', `${this.opts.file}: ${toErrorData(err).message}`, {
        cause: err,
      });
    }
  }

  /** Runs entry(ctx) (once) and resolves when it has joined the room. */
  async connect(attempt = 1): Promise<void> {
    this.assertOpen('connect');
    if (!this.ctx) await this.prewarm();
    const ctx = this.ctx as JobContext;
    this.joined ??= new Promise<void>((resolve, reject) => {
      this.settleJoin = { resolve, reject };
    });
    this.entry ??= runWithJobContextAsync(ctx, () => this.opts.agent.entry(ctx)).then(
      () => this.opts.log.debug({ session: this.opts.id }, 'entry returned'),
      (err) => this.entryFailed(err),
    );
    try {
      await this.joined;
    } catch (err) {
      throw new EntryAgentError('connect_failed', `attempt ${attempt}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.active = true;
    // An end that came while the machine was still connecting is reported once it is active.
    if (this.ended !== undefined) this.end(this.ended);
  }

  async greet(): Promise<void> {}

  close(reason: CloseReason = 'ended'): Promise<void> {
    this.closing ??= this.shutdown(reason);
    return this.closing;
  }

  private async shutdown(reason: CloseReason): Promise<void> {
    this.unwatch?.();
    this.settleJoin?.reject(new Error(`closed (${reason}) before the room was joined`));
    const ctx = this.ctx;
    const log = this.opts.log;
    let failure: unknown;
    let sessionClosed = true;
    try {
      await closeAgentSession(ctx?._primaryAgentSession);
    } catch (err) {
      sessionClosed = false;
      failure = err;
    }
    if (ctx) {
      try {
        await endJob({
          ctx,
          sessionClosed,
          onSessionEnd: this.opts.agent.onSessionEnd,
          disconnect: () => (this.room ? this.room.disconnect() : Promise.resolve()),
          log,
          session: this.opts.id,
        });
      } catch (err) {
        failure ??= err;
      }
    }
    log.debug({ session: this.opts.id, reason }, 'entry agent session closed');
    if (failure) {
      throw new EntryAgentError('internal', `close: ${toErrorData(failure).message}`, { cause: failure });
    }
  }

  private buildJobContext(proc: Awaited<ReturnType<typeof agentProcess>>): JobContext {
    const { transport, agentName } = this.opts;
    let job: Job;
    try {
      job = Job.fromJson(transport.job as never, { ignoreUnknownFields: true });
    } catch (err) {
      throw new Error(`the job is not a LiveKit Job: ${toErrorData(err).message}`);
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
    const room = this.opts.createRoom?.() ?? new Room();
    this.room = room;
    return new JobContext(
      proc,
      info,
      room,
      () => this.onJoined(room),
      (why) => this.end(`job_shutdown${why ? `: ${why}` : ''}`),
      noInferenceExecutor,
    );
  }

  private onJoined(room: Room): void {
    if (this.closing) {
      void room.disconnect().catch(() => {});
      return;
    }
    this.connected = true;
    const onDisconnected = (reason: unknown) => this.end(`room_disconnected:${String(reason)}`);
    room.on(RoomEvent.Disconnected, onDisconnected);
    this.unwatch = () => room.off(RoomEvent.Disconnected, onDisconnected);
    this.settleJoin?.resolve();
  }

  /** The job ended by itself (room gone, ctx.shutdown()); reported once the session is active. */
  private end(reason: string): void {
    if (this.closing) return;
    if (!this.active) {
      this.ended ??= reason;
      // Shut down before joining: the job ends normally, without a room.
      if (!this.connected) this.settleJoin?.resolve();
      return;
    }
    // After the machine has taken the connect phase's result (it moves on in a microtask).
    setImmediate(() => {
      if (!this.closing) this.opts.events.transportEnded(reason);
    });
  }

  private entryFailed(err: unknown): void {
    const message = `${this.opts.file}: entry(ctx) failed: ${toErrorData(err).message}`;
    if (this.closing) {
      this.opts.log.debug({ session: this.opts.id, err: message }, 'entry failed while closing');
    } else if (!this.connected) this.settleJoin?.reject(new Error(message));
    else this.opts.events.error({ code: 'session_error', message });
  }

  private assertOpen(phase: string): void {
    if (this.closing) throw new EntryAgentError('internal', `${phase} after close`);
  }
}
