import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { type ErrorData, type SessionState, toErrorData } from '../protocol/index.ts';
import { nextRandom, seedFrom } from './backoff.ts';
import { notProvided } from './errors.ts';
import { connectBackoff } from './session.limits.ts';
import {
  asFailure,
  closeFailed,
  closeTimedOut,
  connectTimedOut,
  greetFailed,
  greetTimedOut,
  PHASE_OF,
  type Problem,
} from './session.problems.ts';
import type {
  CloseReason,
  SessionContext,
  SessionEmitted,
  SessionEvent,
  SessionInput,
  SessionOutput,
} from './session.types.ts';

export * from './session.limits.ts';
export type * from './session.types.ts';

export const sessionMachine = setup({
  types: {} as {
    context: SessionContext;
    input: SessionInput;
    events: SessionEvent;
    emitted: SessionEmitted;
    output: SessionOutput;
  },
  actors: {
    prewarm: fromPromise<void, { sessionId: string }>(async () => notProvided('prewarm')),
    connect: fromPromise<void, { sessionId: string; attempt: number }>(async () => notProvided('connect')),
    greet: fromPromise<void, { sessionId: string }>(async () => notProvided('greet')),
    close: fromPromise<void, { sessionId: string; reason: CloseReason }>(async () => notProvided('close')),
  },
  delays: {
    prewarmTimeout: ({ context }) => context.limits.prewarmMs,
    connectTimeout: ({ context }) => context.limits.connectMs,
    connectBackoff: ({ context }) => context.backoffMs,
    greetTimeout: ({ context }) => context.limits.greetMs,
    closeTimeout: ({ context }) => context.limits.closeMs,
  },
  guards: {
    canRetryConnect: ({ context }) => context.attempt < context.limits.connectAttempts,
    hasGreeting: ({ context }) => context.hasGreeting,
    greetingRequired: ({ context }) => context.limits.greetingRequired,
    closingAfterCancel: ({ context }) => context.closeReason === 'cancelled',
    closingAfterFailure: ({ context }) => context.closeReason === 'failed',
  },
  actions: {
    enter: enqueueActions(({ context, event, enqueue }, params: { state: SessionState }) => {
      const seq = context.seq + 1;
      enqueue.assign({ state: params.state, seq });
      enqueue.emit({
        type: 'session.transition',
        sessionId: context.sessionId,
        from: context.state,
        to: params.state,
        seq,
        event: event.type,
        // `closing` carries it too: a session that fails while active is known to have failed before
        // it leaves the room (a LiveKit job status goes out then: src/runtime/livekit/job-status.ts).
        ...((params.state === 'failed' || params.state === 'closing') && context.failure
          ? { failure: context.failure }
          : {}),
      });
    }),
    fail: assign((_, params: Problem) => ({ failure: asFailure(params), closeReason: 'failed' as const })),
    /** A greeting problem fails the session only when the greeting is required. */
    greetProblem: assign(({ context }, params: Problem) =>
      context.limits.greetingRequired
        ? { failure: asFailure(params), closeReason: 'failed' as const }
        : { warnings: [...context.warnings, asFailure(params)] },
    ),
    /** A close problem fails a session that was ending normally; otherwise the outcome stands. */
    closeProblem: assign(({ context }, params: Problem) =>
      context.closeReason === 'ended' || context.closeReason === null
        ? { failure: asFailure(params), closeReason: 'failed' as const }
        : { warnings: [...context.warnings, asFailure(params)] },
    ),
    failFromRuntime: assign(({ context }, params: ErrorData) => ({
      failure: asFailure({ phase: (context.state && PHASE_OF[context.state]) ?? 'active', error: params }),
      closeReason: 'failed' as const,
    })),
    endNormally: assign({ closeReason: 'ended' as const }),
    cancel: assign((_, params: { reason: string | null }) => ({
      closeReason: 'cancelled' as const,
      cancelReason: params.reason,
    })),
    nextAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    scheduleRetry: enqueueActions(({ context, enqueue }, params: { error: ErrorData }) => {
      const r = nextRandom(context.rng);
      const delayMs = connectBackoff(context.attempt, context.limits.connectBackoffMs, r.value);
      enqueue.assign({ rng: r.state, backoffMs: delayMs, lastError: params.error });
      enqueue.emit({
        type: 'session.retry',
        sessionId: context.sessionId,
        attempt: context.attempt,
        delayMs,
        error: params.error,
      });
    }),
  },
}).createMachine({
  id: 'session',
  description:
    'One conversation on a worker, from prewarm to close. Every state entered bumps `seq` and emits `session.transition`; every way out passes through `closing`, so resources are always released.',
  context: ({ input }) => ({
    sessionId: input.sessionId,
    agent: input.agent,
    worker: input.worker,
    limits: input.limits,
    hasGreeting: input.hasGreeting,
    state: null,
    seq: 0,
    attempt: 0,
    backoffMs: 0,
    rng: input.seed ?? seedFrom(input.sessionId),
    lastError: null,
    closeReason: null,
    cancelReason: null,
    failure: null,
    warnings: [],
  }),
  output: ({ context }) => ({
    sessionId: context.sessionId,
    state: context.state,
    seq: context.seq,
    failure: context.failure,
    warnings: context.warnings,
  }),
  // Handled here for every state before closing; closing swallows both.
  on: {
    CANCEL: {
      target: '.closing',
      actions: { type: 'cancel', params: ({ event }) => ({ reason: event.reason ?? null }) },
    },
    FAIL: {
      target: '.closing',
      actions: {
        type: 'failFromRuntime',
        params: ({ event }) => ({ code: event.code, message: event.message }),
      },
    },
  },
  initial: 'prewarming',
  states: {
    prewarming: {
      description: 'Prepares what this session needs on the worker (agent module, VAD stream).',
      entry: { type: 'enter', params: { state: 'prewarming' } },
      invoke: {
        id: 'prewarm',
        src: 'prewarm',
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: { target: 'connecting' },
        onError: {
          target: 'closing',
          actions: {
            type: 'fail',
            params: ({ event }) => ({ phase: 'prewarm', error: toErrorData(event.error, 'prewarm_failed') }),
          },
        },
      },
      after: {
        prewarmTimeout: {
          target: 'closing',
          actions: {
            type: 'fail',
            params: ({ context }) => ({
              phase: 'prewarm',
              error: {
                code: 'prewarm_timeout',
                message: `prewarm took longer than ${context.limits.prewarmMs} ms`,
              },
            }),
          },
        },
      },
    },
    connecting: {
      description:
        'Joins the transport. Each attempt has a timeout; a failed attempt is retried after a backoff.',
      entry: { type: 'enter', params: { state: 'connecting' } },
      initial: 'attempting',
      states: {
        attempting: {
          description: 'One connect attempt, bounded by connectMs.',
          entry: 'nextAttempt',
          invoke: {
            id: 'connect',
            src: 'connect',
            input: ({ context }) => ({ sessionId: context.sessionId, attempt: context.attempt }),
            onDone: [{ guard: 'hasGreeting', target: '#session.greeting' }, { target: '#session.active' }],
            onError: [
              {
                guard: 'canRetryConnect',
                target: 'backoff',
                actions: {
                  type: 'scheduleRetry',
                  params: ({ event }) => ({ error: toErrorData(event.error, 'connect_failed') }),
                },
              },
              {
                target: '#session.closing',
                actions: {
                  type: 'fail',
                  params: ({ event }) => ({
                    phase: 'connect',
                    error: {
                      code: 'connect_failed',
                      message: toErrorData(event.error, 'connect_failed').message,
                    },
                  }),
                },
              },
            ],
          },
          after: {
            connectTimeout: [
              {
                guard: 'canRetryConnect',
                target: 'backoff',
                actions: {
                  type: 'scheduleRetry',
                  params: ({ context }) => ({ error: connectTimedOut(context) }),
                },
              },
              {
                target: '#session.closing',
                actions: {
                  type: 'fail',
                  params: ({ context }) => ({ phase: 'connect', error: connectTimedOut(context) }),
                },
              },
            ],
          },
        },
        backoff: {
          description: 'Waits before the next connect attempt; the delay doubles per attempt, with jitter.',
          after: { connectBackoff: { target: 'attempting' } },
        },
      },
    },
    greeting: {
      description:
        'Speaks the configured greeting; skipped when there is none. Failure fails the call only if required.',
      entry: { type: 'enter', params: { state: 'greeting' } },
      invoke: {
        id: 'greet',
        src: 'greet',
        input: ({ context }) => ({ sessionId: context.sessionId }),
        onDone: { target: 'active' },
        onError: [
          {
            guard: 'greetingRequired',
            target: 'closing',
            actions: { type: 'greetProblem', params: greetFailed },
          },
          { target: 'active', actions: { type: 'greetProblem', params: greetFailed } },
        ],
      },
      after: {
        greetTimeout: [
          {
            guard: 'greetingRequired',
            target: 'closing',
            actions: { type: 'greetProblem', params: greetTimedOut },
          },
          { target: 'active', actions: { type: 'greetProblem', params: greetTimedOut } },
        ],
      },
      on: { TRANSPORT_ENDED: { target: 'closing', actions: 'endNormally' } },
    },
    active: {
      description:
        'The conversation runs until the transport ends, the runtime cancels it, or the agent session fails.',
      entry: { type: 'enter', params: { state: 'active' } },
      on: { TRANSPORT_ENDED: { target: 'closing', actions: 'endNormally' } },
    },
    closing: {
      description:
        'Releases the session on every way out. A failed or slow close fails a normal ending; after a cancel or a failure it is only a warning.',
      entry: { type: 'enter', params: { state: 'closing' } },
      invoke: {
        id: 'close',
        src: 'close',
        input: ({ context }) => ({ sessionId: context.sessionId, reason: context.closeReason ?? 'ended' }),
        onDone: [
          { guard: 'closingAfterCancel', target: 'cancelled' },
          { guard: 'closingAfterFailure', target: 'failed' },
          { target: 'closed' },
        ],
        onError: [
          {
            guard: 'closingAfterCancel',
            target: 'cancelled',
            actions: { type: 'closeProblem', params: closeFailed },
          },
          { target: 'failed', actions: { type: 'closeProblem', params: closeFailed } },
        ],
      },
      after: {
        closeTimeout: [
          {
            guard: 'closingAfterCancel',
            target: 'cancelled',
            actions: { type: 'closeProblem', params: closeTimedOut },
          },
          { target: 'failed', actions: { type: 'closeProblem', params: closeTimedOut } },
        ],
      },
      on: { CANCEL: {}, FAIL: {} },
    },
    closed: {
      description: 'Ended normally: the transport ended and everything was released.',
      type: 'final',
      entry: { type: 'enter', params: { state: 'closed' } },
    },
    failed: {
      description: 'Ended by a failure; context.failure says in which phase, with which code and message.',
      type: 'final',
      entry: { type: 'enter', params: { state: 'failed' } },
    },
    cancelled: {
      description: 'Ended by CANCEL, even when releasing failed or timed out (then recorded as a warning).',
      type: 'final',
      entry: { type: 'enter', params: { state: 'cancelled' } },
    },
  },
});

export type SessionMachine = typeof sessionMachine;
