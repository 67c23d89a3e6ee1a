import { z } from 'zod';
import { AgentName, AgentSpec, JobDescriptor, LocalAudioInput, SessionLimits, Transport } from './agent.ts';
import {
  Count,
  Detail,
  ErrorCode,
  ErrorData,
  MessageId,
  Outcome,
  Seq,
  SessionPhase,
  SessionState,
  SubjectToken,
  UnixMs,
  VersionRangeSchema,
  WorkerState,
} from './common.ts';
import { message, ref } from './envelope.ts';

const SessionId = SubjectToken.describe('session id');
const WorkerId = SubjectToken.describe('worker id');
/** A worker incarnation: a fresh random id per process start. Fences messages from a dead one. */
const Epoch = z.string().min(1).max(64);
/**
 * A worker's code version: a stable hash of the content of the agent modules it loaded
 * (docs/operations.md). Workers with different versions belong to different generations.
 */
const CodeVersion = z.string().regex(/^[0-9a-f]{8,64}$/);

// ── worker → supervisor ───────────────────────────────────────────────────────────────

export const SessionSummary = z.object({
  session: SessionId,
  agent: AgentName,
  state: SessionState,
  seq: Seq,
  since: UnixMs,
  jobId: MessageId,
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const PrewarmStatus = z.object({
  status: z.enum(['pending', 'ok', 'failed']),
  ms: z.number().nonnegative().optional(),
  /** How many times this process has loaded the Silero model: 1 when every session shares it. */
  vadLoads: Count.optional(),
  error: ErrorData.optional(),
});

/**
 * A session that has ended, as its worker remembers it. Workers report these again in `hello` and
 * `heartbeat`, so an end published while no supervisor listened (or lost in transit) is still
 * accounted for with its true outcome.
 */
export const EndedSession = z.object({
  session: SessionId,
  agent: AgentName,
  jobId: MessageId,
  seq: Seq,
  outcome: Outcome,
  phase: SessionPhase.optional(),
  error: ErrorData.optional(),
  /** When it ended, on the worker's clock. */
  endedAt: UnixMs,
});
export type EndedSession = z.infer<typeof EndedSession>;

/** Most ended sessions a worker reports at once (its whole record: the last 1000, or 10 minutes). */
export const ENDED_RECORD_LIMIT = 1000;

export const Hello = message('hello', {
  worker: WorkerId,
  epoch: Epoch,
  pid: z.number().int().positive(),
  host: z.string().min(1).max(256),
  capacity: z.number().int().positive().max(10_000),
  versions: VersionRangeSchema,
  /** Sessions still running on this worker: a restarted supervisor re-adopts them. */
  sessions: z.array(SessionSummary).max(10_000),
  /** The worker's bounded record of ended sessions: a new supervisor learns how they ended. */
  ended: z.array(EndedSession).max(ENDED_RECORD_LIMIT).optional(),
  /** The code version of the agent modules it loaded; absent before its prewarm (docs/operations.md). */
  code: CodeVersion.optional(),
});

export const Heartbeat = message('heartbeat', {
  worker: WorkerId,
  epoch: Epoch,
  state: WorkerState,
  active: Count,
  capacity: z.number().int().positive().max(10_000),
  rssBytes: Count,
  prewarm: PrewarmStatus,
  /** Every session the worker hosts, so a lost event heals at the next beat. */
  sessions: z.array(SessionSummary).max(10_000),
  /** Messages this worker rejected, by reason. */
  rejected: z.record(z.string().max(64), Count).optional(),
  /** Sessions that ended within the last few heartbeats, so a lost `session.ended` heals at the next beat. */
  ended: z.array(EndedSession).max(ENDED_RECORD_LIMIT).optional(),
  /** The code version of the agent modules it loaded, once prewarmed. */
  code: CodeVersion.optional(),
});

export const WorkerStateChanged = message('worker.state', {
  worker: WorkerId,
  epoch: Epoch,
  state: WorkerState,
  reason: ErrorData.optional(),
  /** The code version of the agent modules it loaded, once prewarmed (so `ready` comes with it). */
  code: CodeVersion.optional(),
});

/** Why a session failed: the phase it was in, a stable code, and a message for people. */
export const SessionFailure = z.object({
  phase: SessionPhase,
  code: ErrorCode,
  message: z.string().max(4096),
});
export type SessionFailure = z.infer<typeof SessionFailure>;

// Sent on every session transition, so it has only fixed fields: zod checks a free-form record
// key by key, several times slower than a plain object (docs/benchmarks/protocol.md).
export const SessionStateChanged = message('session.state', {
  session: SessionId,
  worker: WorkerId,
  epoch: Epoch,
  state: SessionState,
  seq: Seq,
  /** Present when `state` is `failed`, and on the `closing` of a session that failed. */
  failure: SessionFailure.optional(),
});

export const SessionEnded = message('session.ended', {
  session: SessionId,
  worker: WorkerId,
  epoch: Epoch,
  seq: Seq,
  outcome: Outcome,
  phase: SessionPhase.optional(),
  error: ErrorData.optional(),
});

export const SessionSpeech = message('session.speech', {
  session: SessionId,
  worker: WorkerId,
  epoch: Epoch,
  kind: z.enum(['start', 'end']),
  /** Offset of the event in the session's input audio. */
  atMs: z.number().nonnegative(),
  speechCount: Count,
});

// ── supervisor → worker (request/reply on the worker's command subject) ─────────────────

/**
 * The leader's term (docs/operations.md): the revision of its leadership lease, higher for every
 * new leader. A worker refuses a command whose term is older than one it has seen (stale_term).
 */
const Term = z.number().int().nonnegative();

export const SessionStart = message('session.start', {
  session: SessionId,
  agent: AgentName,
  job: JobDescriptor,
  transport: Transport,
  limits: SessionLimits.optional(),
  term: Term.optional(),
});

export const SessionCancel = message('session.cancel', {
  session: SessionId,
  reason: z.string().max(1024).optional(),
  term: Term.optional(),
});

export const Drain = message('drain', { timeoutMs: z.number().int().nonnegative(), term: Term.optional() });
export const Shutdown = message('shutdown', {
  reason: z.string().max(1024),
  /** Only this incarnation obeys: the supervisor stops a fenced (stale) worker without touching a new one. */
  epoch: Epoch.optional(),
  term: Term.optional(),
});

// ── supervisor → everyone ─────────────────────────────────────────────────────────────

/** Published when a supervisor starts: workers answer with a fresh hello, so it can re-adopt them. */
export const SupervisorUp = message('supervisor.up', { epoch: Epoch, term: Term.optional() });

// ── client → supervisor (request/reply) ───────────────────────────────────────────────

export const DispatchRequest = message('dispatch', {
  /** Ask for this agent by name; otherwise routing decides from job and room. */
  agent: AgentName.optional(),
  job: z
    .object({
      id: MessageId.optional(),
      room: z.string().min(1).max(256).optional(),
      metadata: z.string().max(65_536).optional(),
      roomMetadata: z.string().max(65_536).optional(),
    })
    .optional(),
  /** Only accept an explicit match: no first-registered fallback. */
  explicitOnly: z.boolean().optional(),
  transport: Transport.optional(),
  /** Shorthand for a local transport with this audio input and discarded output. */
  audio: LocalAudioInput.optional(),
});

export const StatusRequest = message('status', {});

/**
 * A rolling upgrade (docs/operations.md): start a new generation of local workers with the code on
 * disk, wait until it is ready, then drain the older generations. Answered when it is done or failed.
 */
export const RolloutRequest = message('rollout', {
  /** How long the new generation may take to be ready before the rollout is called off. */
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
});

// ── replies ───────────────────────────────────────────────────────────────────────────

export const Welcome = message('welcome', {
  ref,
  version: z.number().int().positive(),
  pool: SubjectToken,
  supervisorEpoch: Epoch,
  heartbeatMs: z.number().int().positive(),
  agents: z.array(AgentSpec).max(1000),
  /**
   * This supervisor takes a worker's session transitions from its `inspect` messages that carry
   * `epoch`: the worker publishes each transition once, and no `session.state`. Absent (an older
   * supervisor): the worker publishes both, as before.
   */
  transitionsOnInspect: z.boolean().optional(),
});

export const Ack = message('ack', { ref, detail: Detail.optional() });

export const DispatchOk = message('dispatch.ok', {
  ref,
  session: SessionId,
  worker: WorkerId,
  agent: AgentName,
  jobId: MessageId,
  /** True when this job id was already dispatched: the existing session is returned. */
  existing: z.boolean(),
});

export const WorkerStatus = z.object({
  worker: WorkerId,
  epoch: Epoch.nullable(),
  pid: z.number().int().positive().nullable(),
  host: z.string().max(256).nullable(),
  state: WorkerState,
  supervision: z.enum(['up', 'restarting', 'given_up', 'stopped', 'remote']),
  active: Count,
  capacity: Count,
  rssBytes: Count,
  prewarmMs: z.number().nonnegative().nullable(),
  restarts: Count,
  lastSeen: UnixMs.nullable(),
  /** Why the worker last failed (its own report, or how its process ended); cleared by its next hello. */
  error: ErrorData.optional(),
  /** A hot spare: prewarmed, takes no sessions until it replaces a lost worker. */
  spare: z.boolean().optional(),
  /** Its generation (docs/operations.md) and the code version it reported. */
  generation: Count.optional(),
  code: CodeVersion.optional(),
});

/** One generation of workers: those started by one rollout, or joined with one code version. */
export const GenerationStatus = z.object({
  generation: Count,
  /** The code version its workers reported (the first one, if they differ); null before any did. */
  code: CodeVersion.nullable(),
  workers: z.array(WorkerId).max(10_000),
  /** Live sessions on its workers. */
  sessions: Count,
  /** New sessions go to this generation. */
  serving: z.boolean(),
  /** Being drained: takes no new sessions, its running sessions finish on its code. */
  draining: z.boolean(),
  /** Started by a rollout that is not done yet: takes no sessions until all its workers are ready. */
  pending: z.boolean(),
});

/** The latest rollout and how it went. */
export const RolloutStatus = z.object({
  generation: Count,
  state: z.enum(['starting', 'done', 'failed']),
  startedAt: UnixMs,
  endedAt: UnixMs.nullable(),
  workers: z.array(WorkerId).max(10_000),
  /** Workers of older generations it drained. */
  drained: z.array(WorkerId).max(10_000),
  error: ErrorData.optional(),
});

export const SessionStatus = z.object({
  session: SessionId,
  agent: AgentName,
  worker: WorkerId,
  jobId: MessageId,
  room: z.string().max(256),
  state: SessionState,
  seq: z.number().int().nonnegative(),
  createdAt: UnixMs,
  since: UnixMs,
  error: ErrorData.optional(),
});

export const StatusOk = message('status.ok', {
  ref,
  pool: SubjectToken,
  health: z.enum(['ok', 'degraded', 'draining']),
  workers: z.array(WorkerStatus),
  sessions: z.array(SessionStatus),
  /** Messages the supervisor rejected, by reason. */
  rejected: z.record(z.string().max(64), Count),
  /** Per-agent circuit breakers (docs/operations.md); absent from supervisors that have none. */
  breakers: z
    .array(
      z.object({
        agent: AgentName,
        state: z.enum(['closed', 'open', 'half_open']),
        /** Failures inside the current window. */
        failures: Count,
        /** When it last opened. */
        openedAt: UnixMs.nullable(),
      }),
    )
    .max(1000)
    .optional(),
  /** Live sessions per tenant (from job metadata), when tenant caps are configured. */
  tenants: z.record(z.string().max(256), Count).optional(),
  /** Worker generations, newest last (docs/operations.md). */
  generations: z.array(GenerationStatus).max(1000).optional(),
  /** The latest rollout, if any. */
  rollout: RolloutStatus.optional(),
});

export const RolloutOk = message('rollout.ok', { ref, rollout: RolloutStatus });

export const ErrorReply = message('error', { ref: ref.optional(), error: ErrorData });

// ── session history (client → supervisor, request/reply) ──────────────────────────────

export const HistoryRequest = message('history', { session: SessionId });

/** One recorded transition of a session, as the supervisor's inspection history keeps it. */
export const HistoryEntry = z.object({
  from: z.string().max(256).nullable(),
  to: z.string().max(256),
  event: z.string().max(256),
  seq: Seq,
  ts: UnixMs,
  host: z.string().max(256),
  pid: z.number().int().positive(),
  summary: Detail,
});

export const HistoryOk = message('history.ok', {
  ref,
  session: SessionId,
  /** The worker that hosted it, when known. */
  worker: WorkerId.nullable(),
  ended: z.boolean(),
  /** Earlier transitions no longer kept (the history keeps the last ones of each session). */
  dropped: Count,
  transitions: z.array(HistoryEntry).max(1000),
});

// ── inspection ────────────────────────────────────────────────────────────────────────

export const Inspection = message('inspect', {
  actor: z.object({
    id: z.string().min(1).max(128),
    kind: z.enum(['supervisor', 'worker', 'session']),
    parent: z.string().max(128).optional(),
  }),
  pool: SubjectToken,
  host: z.string().max(256),
  pid: z.number().int().positive(),
  fromState: z.string().max(256).nullable(),
  toState: z.string().max(256),
  event: z.string().max(256),
  seq: Seq,
  summary: Detail,
  /**
   * A worker's session transition that is also its report to the supervisor (which fences it by
   * this incarnation, as `session.state`'s epoch): sent to a supervisor whose welcome said
   * `transitionsOnInspect`. Absent on every other inspection event.
   */
  epoch: Epoch.optional(),
  /** With `epoch`: why the session failed (on `failed`, and on the `closing` that precedes it). */
  failure: SessionFailure.optional(),
});
