import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { ErrorData, WorkerState } from '../protocol/index.ts';
import { asErrorData, notProvided } from './errors.ts';
import type {
  PrewarmDone,
  Welcome,
  WorkerContext,
  WorkerEmitted,
  WorkerEvent,
  WorkerFailure,
  WorkerInput,
  WorkerOutput,
} from './worker.types.ts';

export type * from './worker.types.ts';

export const DEFAULT_DRAIN_GRACE_MS = 5_000;

/**
 * Why a worker in `state` refuses session `sessionId`, or null when it admits it. The machine's
 * guards use this; the runtime can call it on a snapshot to answer before sending SESSION_ADMIT.
 */
export function admissionRefusal(
  state: WorkerState | null,
  context: WorkerContext,
  sessionId: string,
): ErrorData | null {
  const { workerId, sessions, capacity } = context;
  if (sessions.includes(sessionId)) {
    return { code: 'duplicate_session', message: `worker ${workerId} already hosts session ${sessionId}` };
  }
  if (state === 'ready' && sessions.length < capacity) return null;
  if (state === 'draining') return { code: 'draining', message: `worker ${workerId} is draining` };
  if (state === 'ready' || state === 'full') {
    return {
      code: 'no_capacity',
      message: `worker ${workerId} is full (${sessions.length}/${capacity} sessions)`,
    };
  }
  return {
    code: 'no_capacity',
    message: `worker ${workerId} is ${state ?? 'not started'}, not ready for sessions`,
  };
}

type Admit = { sessionId: string };

export const workerMachine = setup({
  types: {} as {
    context: WorkerContext;
    input: WorkerInput;
    events: WorkerEvent;
    emitted: WorkerEmitted;
    output: WorkerOutput;
  },
  actors: {
    /** Says hello to the supervisor; resolves with the welcome, rejects with ErrorData. */
    register: fromPromise<Welcome, { workerId: string; capacity: number }>(async () =>
      notProvided('register'),
    ),
    /** Loads the shared models once (Silero VAD); resolves with how long it took. */
    prewarm: fromPromise<PrewarmDone, { workerId: string }>(async () => notProvided('prewarm')),
  },
  delays: {
    drainTimeout: ({ context }) => context.drainTimeoutMs,
    drainGrace: ({ context }) => context.drainGraceMs,
  },
  guards: {
    admits: ({ context }, params: Admit) => admissionRefusal('ready', context, params.sessionId) === null,
    fillsLastSlot: ({ context }, params: Admit) =>
      admissionRefusal('ready', context, params.sessionId) === null &&
      context.sessions.length + 1 >= context.capacity,
    hosts: ({ context }, params: Admit) => context.sessions.includes(params.sessionId),
    isLastSession: ({ context }, params: Admit) =>
      context.sessions.length === 1 && context.sessions[0] === params.sessionId,
    idle: ({ context }) => context.sessions.length === 0,
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
    admit: enqueueActions(({ context, enqueue }, params: Admit) => {
      const sessions = [...context.sessions, params.sessionId];
      enqueue.assign({ sessions });
      enqueue.emit({
        type: 'session.admitted',
        workerId: context.workerId,
        sessionId: params.sessionId,
        active: sessions.length,
        capacity: context.capacity,
      });
    }),
    refuse: enqueueActions(({ context, enqueue }, params: Admit) => {
      const error = admissionRefusal(context.state, context, params.sessionId) ?? {
        code: 'internal',
        message: 'refused without a reason',
      };
      enqueue.emit({
        type: 'session.refused',
        workerId: context.workerId,
        sessionId: params.sessionId,
        error,
      });
    }),
    finish: assign({
      sessions: ({ context }, params: Admit) => context.sessions.filter((id) => id !== params.sessionId),
    }),
    welcome: assign((_, params: Welcome) => ({
      version: params.version,
      agents: params.agents,
      heartbeatMs: params.heartbeatMs,
    })),
    prewarmed: assign({
      prewarmMs: (_, params: PrewarmDone) => (Number.isFinite(params?.ms) ? params.ms : null),
    }),
    fail: assign((_, params: WorkerFailure) => ({ failure: params })),
    setDrainTimeout: assign({
      drainTimeoutMs: ({ context }, params: { timeoutMs?: number }) =>
        params.timeoutMs ?? context.drainTimeoutMs,
    }),
    /** Injected: cancel these sessions now (the drain ran out of time). */
    cancelSessions: (_, _params: { sessionIds: string[] }) => notProvided('cancelSessions'),
  },
}).createMachine({
  id: 'worker',
  description:
    'One worker process: registers with the supervisor, prewarms the shared models once, then admits sessions up to its capacity. Every state entered bumps `seq` and emits `worker.transition`.',
  context: ({ input }) => ({
    workerId: input.workerId,
    capacity: input.capacity,
    drainTimeoutMs: input.drainTimeoutMs,
    drainGraceMs: input.drainGraceMs ?? DEFAULT_DRAIN_GRACE_MS,
    sessions: [],
    version: null,
    agents: [],
    heartbeatMs: null,
    prewarmMs: null,
    failure: null,
    state: null,
    seq: 0,
  }),
  output: ({ context }) => ({
    workerId: context.workerId,
    state: context.state,
    failure: context.failure,
    sessions: context.sessions,
  }),
  on: {
    SHUTDOWN: { target: '.stopped' },
    // Refused wherever a state does not handle it: only `ready` admits.
    SESSION_ADMIT: { actions: { type: 'refuse', params: ({ event }) => event } },
  },
  initial: 'starting',
  states: {
    starting: {
      description: 'The process is up; waits for the runtime to connect to NATS.',
      entry: { type: 'enter', params: { state: 'starting' } },
      on: { STARTED: { target: 'registering' }, DRAIN: { target: 'stopped' } },
    },
    registering: {
      description: "Says hello and waits for the supervisor's welcome (version, agents, heartbeat interval).",
      entry: { type: 'enter', params: { state: 'registering' } },
      invoke: {
        id: 'register',
        src: 'register',
        input: ({ context }) => ({ workerId: context.workerId, capacity: context.capacity }),
        onDone: { target: 'prewarming', actions: { type: 'welcome', params: ({ event }) => event.output } },
        onError: {
          target: 'failed',
          actions: {
            type: 'fail',
            params: ({ event }) => {
              const { code, message } = asErrorData(event.error, 'supervisor_unavailable');
              return { phase: 'register', code, message: `registration refused: ${message}` };
            },
          },
        },
      },
      on: { DRAIN: { target: 'stopped' } },
    },
    prewarming: {
      description: 'Loads the shared models once for every session of this worker.',
      entry: { type: 'enter', params: { state: 'prewarming' } },
      invoke: {
        id: 'prewarm',
        src: 'prewarm',
        input: ({ context }) => ({ workerId: context.workerId }),
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
              message: `prewarm failed: ${asErrorData(event.error, 'prewarm_failed').message}`,
            }),
          },
        },
      },
      on: { DRAIN: { target: 'stopped' } },
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
        SESSION_FINISHED: { actions: { type: 'finish', params: ({ event }) => event } },
        DRAIN: [
          { guard: 'idle', target: 'stopped' },
          { target: 'draining', actions: { type: 'setDrainTimeout', params: ({ event }) => event } },
        ],
      },
    },
    full: {
      description: 'Every slot is taken: refuses sessions until one finishes.',
      entry: { type: 'enter', params: { state: 'full' } },
      on: {
        SESSION_FINISHED: {
          guard: { type: 'hosts', params: ({ event }) => event },
          target: 'ready',
          actions: { type: 'finish', params: ({ event }) => event },
        },
        DRAIN: { target: 'draining', actions: { type: 'setDrainTimeout', params: ({ event }) => event } },
      },
    },
    draining: {
      description:
        'Refuses new sessions and waits for the running ones; cancels them when the drain times out.',
      entry: { type: 'enter', params: { state: 'draining' } },
      initial: 'waiting',
      states: {
        waiting: {
          description: 'Waits up to the drain timeout for the sessions to finish on their own.',
          after: {
            drainTimeout: {
              target: 'cancelling',
              actions: {
                type: 'cancelSessions',
                params: ({ context }) => ({ sessionIds: context.sessions }),
              },
            },
          },
        },
        cancelling: {
          description: 'Waits a short grace for the cancelled sessions, then stops anyway.',
          after: { drainGrace: { target: '#worker.stopped' } },
        },
      },
      on: {
        SESSION_FINISHED: [
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
      entry: { type: 'enter', params: { state: 'stopped' } },
    },
    failed: {
      description: 'Registration or prewarm failed; context.failure says why. The process exits non-zero.',
      type: 'final',
      entry: { type: 'enter', params: { state: 'failed' } },
    },
  },
});

export type WorkerMachine = typeof workerMachine;
