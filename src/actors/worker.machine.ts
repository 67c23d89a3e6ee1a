import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import {
  type AgentSpec,
  ENDED_RECORD_LIMIT,
  type ErrorData,
  toErrorData,
  type WorkerState,
} from '../protocol/index.ts';
import { type BackoffOptions, exponentialBackoff, nextRandom, seedFrom } from './backoff.ts';
import { notProvided } from './errors.ts';
import { heartbeat } from './heartbeat.ts';
import { resolveLimits, sessionMachine } from './session.machine.ts';
import type { SessionInput } from './session.types.ts';
import { endedEntry, recordEnded } from './worker.ended.ts';
import type {
  PrewarmDone,
  RegisterError,
  SessionEnd,
  SessionRequest,
  Welcome,
  WorkerContext,
  WorkerEmitted,
  WorkerEvent,
  WorkerFailure,
  WorkerInput,
  WorkerOutput,
} from './worker.types.ts';

export * from './worker.ended.ts';
export * from './worker.reports.ts';
export type * from './worker.types.ts';

export const DEFAULT_DRAIN_GRACE_MS = 5_000;

/** Delay before hello number n+1 while no supervisor answers: 100 ms doubling to 2 s, up to half of it jitter. */
export const REGISTER_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 2_000, factor: 2, jitter: 0.5 };

/** The states of a registered worker: it has been welcomed, and its heartbeat runs. */
export const REGISTERED_STATES: readonly WorkerState[] = ['prewarming', 'ready', 'full', 'draining'];

/** The id of the heartbeat actor among the worker's children (the others are sessions, by id). */
export const HEARTBEAT_ID = 'heartbeat';

/** What the admission question needs of a request. */
export type Admission = Pick<SessionRequest, 'session' | 'agent'>;

/**
 * Why a worker in `state` refuses `request`, or null when it admits it. The machine's guards use
 * this; the runtime can call it on a snapshot.
 */
export function admissionRefusal(
  state: WorkerState | null,
  context: WorkerContext,
  request: Admission,
): ErrorData | null {
  const { workerId, sessions, capacity } = context;
  if (sessions.some((s) => s.session === request.session)) {
    return {
      code: 'duplicate_session',
      message: `worker ${workerId} already hosts session ${request.session}`,
    };
  }
  if (state === 'draining') return { code: 'draining', message: `worker ${workerId} is draining` };
  if (state !== 'ready' && state !== 'full') {
    return {
      code: 'no_capacity',
      message: `worker ${workerId} is ${state ?? 'not started'}, not ready for sessions`,
    };
  }
  if (!context.agents.some((a) => a.name === request.agent)) {
    return { code: 'unknown_agent', message: `worker ${workerId} has no agent '${request.agent}'` };
  }
  if (state === 'ready' && sessions.length < capacity) return null;
  return {
    code: 'no_capacity',
    message: `worker ${workerId} is full (${sessions.length}/${capacity} sessions)`,
  };
}

/** The input of a session actor for `request`, with the agent's limits under the request's own. */
export function sessionInput(context: WorkerContext, request: SessionRequest): SessionInput {
  const spec: AgentSpec | undefined = context.agents.find((a) => a.name === request.agent);
  return {
    sessionId: request.session,
    agent: request.agent,
    worker: context.workerId,
    limits: resolveLimits({ ...spec?.limits, ...request.limits }),
    hasGreeting: spec?.greeting !== undefined,
  };
}

type Admit = { request: SessionRequest; now: number };
type Ended = Omit<SessionEnd, 'type'>;

export const workerMachine = setup({
  types: {} as {
    context: WorkerContext;
    input: WorkerInput;
    events: WorkerEvent;
    emitted: WorkerEmitted;
    output: WorkerOutput;
  },
  actors: {
    /** Says hello to the supervisor; resolves with the welcome, rejects with a RegisterError. */
    register: fromPromise<Welcome, { workerId: string; attempt: number }>(async () =>
      notProvided('register'),
    ),
    /** Loads the shared models once (Silero VAD) and the agents; resolves with how long it took. */
    prewarm: fromPromise<PrewarmDone, { workerId: string; agents: AgentSpec[] }>(async () =>
      notProvided('prewarm'),
    ),
    /** One session; the runtime provides it with its phases bound to a driver. */
    session: sessionMachine,
    heartbeat,
  },
  delays: {
    drainTimeout: ({ context }) => context.drainTimeoutMs,
    drainGrace: ({ context }) => context.drainGraceMs,
    registerBackoff: ({ context }) => context.registration.delayMs,
  },
  guards: {
    admits: ({ context }, params: Admit) => admissionRefusal('ready', context, params.request) === null,
    fillsLastSlot: ({ context }, params: Admit) =>
      admissionRefusal('ready', context, params.request) === null &&
      context.sessions.length + 1 >= context.capacity,
    hosts: ({ context }, params: { sessionId: string }) =>
      context.sessions.some((s) => s.session === params.sessionId),
    isLastSession: ({ context }, params: { sessionId: string }) =>
      context.sessions.length === 1 && context.sessions[0]?.session === params.sessionId,
    idle: ({ context }) => context.sessions.length === 0,
    registered: ({ context }) => isRegistered(context),
    /** The NATS link is back and the worker is registered: it reports its full state at once. */
    backWhileRegistered: ({ context }, params: { up: boolean }) => params.up && isRegistered(context),
    supervisorUnreachable: (_, params: { error: unknown }) =>
      (params.error as RegisterError | undefined)?.retryable === true,
  },
  actions: {
    enter: enqueueActions(({ context, event, enqueue }, params: { state: WorkerState }) => {
      const seq = context.seq + 1;
      enqueue.assign({ state: params.state, seq });
      enqueue.emit({
        type: 'worker.transition',
        workerId: context.workerId,
        from: context.state,
        to: params.state,
        seq,
        event: event.type,
        ...(params.state === 'failed' && context.failure ? { failure: context.failure } : {}),
      });
    }),
    /** Admits the session: records it and spawns its actor, a child named by the session id. */
    admit: enqueueActions(({ context, enqueue }, params: Admit) => {
      const { request } = params;
      const sessions = [
        ...context.sessions,
        {
          session: request.session,
          agent: request.agent,
          jobId: request.job.id,
          room: request.job.room,
          admittedAt: params.now,
          request,
        },
      ];
      enqueue.assign({ sessions });
      enqueue.spawnChild('session', { id: request.session, input: sessionInput(context, request) });
      enqueue.emit({
        type: 'session.admitted',
        workerId: context.workerId,
        sessionId: request.session,
        active: sessions.length,
        capacity: context.capacity,
      });
    }),
    refuse: enqueueActions(({ context, enqueue }, params: Admit) => {
      const error = admissionRefusal(context.state, context, params.request) ?? {
        code: 'internal',
        message: 'refused without a reason',
      };
      enqueue.emit({
        type: 'session.refused',
        workerId: context.workerId,
        sessionId: params.request.session,
        error,
      });
    }),
    /** A session actor ended: it leaves the hosted list for the ended record, and its actor is stopped. */
    finish: enqueueActions(({ context, enqueue }, params: Ended) => {
      const hosted = context.sessions.find((s) => s.session === params.sessionId);
      if (!hosted) return;
      const ended = endedEntry(hosted, { type: 'SESSION_ENDED', ...params });
      enqueue.assign({
        sessions: context.sessions.filter((s) => s !== hosted),
        ended: recordEnded(context.ended, ended, context.endedLimit, params.now),
      });
      enqueue.stopChild(params.sessionId);
      enqueue.emit({
        type: 'session.ended',
        workerId: context.workerId,
        ended,
        ...(params.failure ? { failure: params.failure } : {}),
      });
    }),
    /** Sends CANCEL to every session actor. */
    cancelSessions: enqueueActions(({ context, enqueue }, params: { reason: string }) => {
      for (const s of context.sessions) enqueue.sendTo(s.session, { type: 'CANCEL', reason: params.reason });
    }),
    cancelSession: enqueueActions(({ enqueue }, params: { sessionId: string; reason?: string }) => {
      enqueue.sendTo(params.sessionId, { type: 'CANCEL', reason: params.reason ?? 'cancelled' });
    }),
    welcome: assign((_, params: Welcome) => ({
      version: params.version,
      agents: params.agents,
      heartbeatMs: params.heartbeatMs,
      ...(params.supervisor ? { supervisor: params.supervisor } : {}),
    })),
    /** Starts the heartbeat actor (again, when a new welcome may have changed its interval). */
    startHeartbeat: enqueueActions(({ context, enqueue }) => {
      enqueue.stopChild(HEARTBEAT_ID);
      enqueue.spawnChild('heartbeat', {
        id: HEARTBEAT_ID,
        input: { intervalMs: context.heartbeatMs ?? 1000 },
      });
    }),
    stopHeartbeat: enqueueActions(({ enqueue }) => enqueue.stopChild(HEARTBEAT_ID)),
    /** Asks the runtime to publish a heartbeat; after an outage, the first one repeats the ends since. */
    beat: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({
        type: 'worker.heartbeat',
        workerId: context.workerId,
        endsSince: context.link.downSince,
      });
      if (context.link.up && context.link.downSince !== null) {
        enqueue.assign({ link: { up: true, downSince: null } });
      }
    }),
    link: assign({
      link: ({ context }, params: { up: boolean; now: number }) => ({
        up: params.up,
        downSince: params.up ? context.link.downSince : (context.link.downSince ?? params.now),
      }),
    }),
    helloAgain: enqueueActions(({ context, enqueue }) =>
      enqueue.emit({ type: 'worker.hello', workerId: context.workerId }),
    ),
    scheduleRegisterRetry: enqueueActions(({ context, enqueue }, params: { error: ErrorData }) => {
      const attempt = context.registration.attempt + 1;
      const r = nextRandom(context.registration.rng);
      const delayMs = exponentialBackoff(attempt, REGISTER_BACKOFF, r.value);
      enqueue.assign({ registration: { attempt, delayMs, rng: r.state, lastError: params.error } });
      enqueue.emit({
        type: 'worker.register_retry',
        workerId: context.workerId,
        attempt,
        delayMs,
        error: params.error,
      });
    }),
    prewarmed: assign({
      prewarmMs: (_, params: PrewarmDone) => (Number.isFinite(params?.ms) ? params.ms : null),
      code: ({ context }, params: PrewarmDone) => params?.code ?? context.code,
    }),
    fail: assign((_, params: WorkerFailure) => ({ failure: params })),
    setDrainTimeout: assign({
      drainTimeoutMs: ({ context }, params: { timeoutMs?: number }) =>
        params.timeoutMs ?? context.drainTimeoutMs,
    }),
  },
}).createMachine({
  id: 'worker',
  description:
    'One worker process: registers with the supervisor (retrying with backoff while none answers), prewarms the shared models once, then admits sessions up to its capacity, each a session actor it spawns. While registered, its heartbeat actor runs. Every state entered bumps `seq` and emits `worker.transition`.',
  context: ({ input }) => ({
    workerId: input.workerId,
    epoch: input.epoch ?? input.workerId,
    capacity: input.capacity,
    drainTimeoutMs: input.drainTimeoutMs,
    drainGraceMs: input.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS,
    sessions: [],
    ended: [],
    endedLimit: Math.min(input.endedLimit ?? ENDED_RECORD_LIMIT, ENDED_RECORD_LIMIT),
    link: { up: true, downSince: null },
    registration: { attempt: 0, delayMs: 0, rng: input.seed ?? seedFrom(input.workerId), lastError: null },
    supervisor: null,
    version: null,
    agents: [],
    heartbeatMs: null,
    prewarmMs: null,
    code: null,
    failure: null,
    state: null,
    seq: 0,
  }),
  output: ({ context }) => ({
    workerId: context.workerId,
    state: context.state,
    failure: context.failure,
    sessions: context.sessions.map((s) => s.session),
  }),
  on: {
    // Refused wherever a state does not handle it: only `ready` admits.
    SESSION_ADMIT: { actions: { type: 'refuse', params: ({ event }) => event } },
    SESSION_CANCEL: {
      guard: { type: 'hosts', params: ({ event }) => event },
      actions: { type: 'cancelSession', params: ({ event }) => event },
    },
    LINK: [
      {
        guard: { type: 'backWhileRegistered', params: ({ event }) => event },
        actions: [{ type: 'link', params: ({ event }) => event }, 'beat'],
      },
      { actions: { type: 'link', params: ({ event }) => event } },
    ],
    SUPERVISOR_UP: { guard: 'registered', actions: 'helloAgain' },
    WELCOMED: {
      guard: 'registered',
      actions: [{ type: 'welcome', params: ({ event }) => event.welcome }, 'startHeartbeat'],
    },
    BEAT: { actions: 'beat' },
  },
  initial: 'starting',
  states: {
    starting: {
      description: 'The process is up; waits for the runtime to connect to NATS.',
      entry: { type: 'enter', params: { state: 'starting' } },
      on: {
        STARTED: { target: 'registering' },
        DRAIN: { target: 'stopped' },
        SHUTDOWN: { target: 'stopped' },
      },
    },
    registering: {
      description:
        "Says hello and waits for the supervisor's welcome (version, agents, heartbeat interval); while no supervisor answers, says it again after a growing delay.",
      entry: { type: 'enter', params: { state: 'registering' } },
      initial: 'attempting',
      states: {
        attempting: {
          description: 'One hello, bounded by the request timeout.',
          invoke: {
            id: 'register',
            src: 'register',
            input: ({ context }) => ({
              workerId: context.workerId,
              attempt: context.registration.attempt + 1,
            }),
            onDone: {
              target: '#worker.prewarming',
              actions: [{ type: 'welcome', params: ({ event }) => event.output }, 'startHeartbeat'],
            },
            onError: [
              {
                guard: { type: 'supervisorUnreachable', params: ({ event }) => ({ error: event.error }) },
                target: 'waiting',
                actions: {
                  type: 'scheduleRegisterRetry',
                  params: ({ event }) => ({ error: toErrorData(event.error, 'supervisor_unavailable') }),
                },
              },
              {
                target: '#worker.failed',
                actions: {
                  type: 'fail',
                  params: ({ event }) => {
                    const { code, message } = toErrorData(event.error, 'supervisor_unavailable');
                    return { phase: 'register', code, message: `registration refused: ${message}` };
                  },
                },
              },
            ],
          },
        },
        waiting: {
          description:
            'No supervisor answered: waits (100 ms doubling to 2 s, with jitter) before the next hello.',
          after: { registerBackoff: { target: 'attempting' } },
        },
      },
      on: { DRAIN: { target: 'stopped' }, SHUTDOWN: { target: 'stopped' } },
    },
    prewarming: {
      description: 'Loads the shared models once for every session of this worker.',
      entry: { type: 'enter', params: { state: 'prewarming' } },
      invoke: {
        id: 'prewarm',
        src: 'prewarm',
        input: ({ context }) => ({ workerId: context.workerId, agents: context.agents }),
        onDone: {
          target: 'ready',
          actions: { type: 'prewarmed', params: ({ event }) => event.output },
        },
        onError: {
          target: 'failed',
          actions: {
            type: 'fail',
            params: ({ event }) => ({
              phase: 'prewarm',
              code: 'prewarm_failed',
              message: `prewarm failed: ${toErrorData(event.error, 'prewarm_failed').message}`,
            }),
          },
        },
      },
      on: { DRAIN: { target: 'stopped' }, SHUTDOWN: { target: 'stopped' } },
    },
    ready: {
      description: 'Admits sessions while it has a free slot.',
      entry: { type: 'enter', params: { state: 'ready' } },
      on: {
        SESSION_ADMIT: [
          {
            guard: { type: 'fillsLastSlot', params: ({ event }) => event },
            target: 'full',
            actions: { type: 'admit', params: ({ event }) => event },
          },
          {
            guard: { type: 'admits', params: ({ event }) => event },
            actions: { type: 'admit', params: ({ event }) => event },
          },
          { actions: { type: 'refuse', params: ({ event }) => event } },
        ],
        SESSION_ENDED: { actions: { type: 'finish', params: ({ event }) => event } },
        DRAIN: [
          { guard: 'idle', target: 'stopped' },
          { target: 'draining', actions: { type: 'setDrainTimeout', params: ({ event }) => event } },
        ],
        SHUTDOWN: [
          { guard: 'idle', target: 'stopped' },
          { target: '#worker.draining.cancelling', actions: { type: 'cancelSessions', params: shutdown } },
        ],
      },
    },
    full: {
      description: 'Every slot is taken: refuses sessions until one ends.',
      entry: { type: 'enter', params: { state: 'full' } },
      on: {
        SESSION_ENDED: {
          guard: { type: 'hosts', params: ({ event }) => event },
          target: 'ready',
          actions: { type: 'finish', params: ({ event }) => event },
        },
        DRAIN: { target: 'draining', actions: { type: 'setDrainTimeout', params: ({ event }) => event } },
        SHUTDOWN: {
          target: '#worker.draining.cancelling',
          actions: { type: 'cancelSessions', params: shutdown },
        },
      },
    },
    draining: {
      description:
        'Refuses new sessions and waits for the running ones; cancels them when the drain times out or on SHUTDOWN.',
      entry: { type: 'enter', params: { state: 'draining' } },
      initial: 'waiting',
      states: {
        waiting: {
          description: 'Waits up to the drain timeout for the sessions to end on their own.',
          after: {
            drainTimeout: {
              target: 'cancelling',
              actions: { type: 'cancelSessions', params: { reason: 'drain timeout' } },
            },
          },
        },
        cancelling: {
          description: 'Every session was told to cancel: waits a short grace for them, then stops anyway.',
          after: { drainGrace: { target: '#worker.stopped' } },
        },
      },
      on: {
        SHUTDOWN: { target: '.cancelling', actions: { type: 'cancelSessions', params: shutdown } },
        SESSION_ENDED: [
          {
            guard: { type: 'isLastSession', params: ({ event }) => event },
            target: 'stopped',
            actions: { type: 'finish', params: ({ event }) => event },
          },
          { actions: { type: 'finish', params: ({ event }) => event } },
        ],
      },
    },
    stopped: {
      description: 'Ended: drained, or shut down. The process exits 0.',
      type: 'final',
      entry: [{ type: 'enter', params: { state: 'stopped' } }, 'stopHeartbeat'],
    },
    failed: {
      description: 'Registration or prewarm failed; context.failure says why. The process exits non-zero.',
      type: 'final',
      entry: [{ type: 'enter', params: { state: 'failed' } }, 'stopHeartbeat'],
    },
  },
});

function isRegistered(context: WorkerContext): boolean {
  return context.state !== null && REGISTERED_STATES.includes(context.state);
}

/** Why the sessions are cancelled on SHUTDOWN. */
function shutdown({ event }: { event: WorkerEvent }): { reason: string } {
  const reason = event.type === 'SHUTDOWN' ? event.reason : undefined;
  return { reason: reason ? `shutdown: ${reason}` : 'shutdown' };
}

export type WorkerMachine = typeof workerMachine;
