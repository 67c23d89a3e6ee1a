import { enqueueActions, setup, stateIn } from 'xstate';
import { seedFrom } from './backoff.ts';
import { advance, type Draft, draft, type Effect, reject, settle } from './pool.ts';
import { onRollout, progressRollout } from './pool-generations.ts';
import { breakerTick, resolveLimits } from './pool-limits.ts';
import {
  onDispatch,
  onPlaceFailed,
  onSessionEnded,
  onSessionSpeech,
  onSessionState,
} from './pool-sessions.ts';
import {
  announce,
  fence,
  isDown,
  livenessTickMs,
  localWorker,
  onBus,
  onDrain,
  onDrainDeadline,
  onHeard,
  onHeartbeat,
  onHello,
  onRespawn,
  onTick,
  onWorkerExited,
  onWorkerSpawned,
  onWorkerState,
} from './pool-workers.ts';
import { resolveRestartPolicy } from './restart-policy.ts';
import type {
  SupervisorContext,
  SupervisorEmitted,
  SupervisorEvent,
  SupervisorInput,
  SupervisorState,
} from './supervisor.types.ts';

export type * from './supervisor.types.ts';

/**
 * Applies one event to the pool state: a pure function the machine's actions call, and tests
 * can call directly. `mode` is the machine's state while the event applies. Returns the new
 * context and the effects (emits, timers) to carry out.
 */
export function reducePool(
  context: SupervisorContext,
  event: SupervisorEvent,
  mode: SupervisorState = 'running',
): { context: SupervisorContext; effects: Effect[] } {
  const d = draft(context, mode);
  applyEvent(d, event);
  progressRollout(d);
  settle(d);
  return { context: d.ctx, effects: d.effects };
}

function applyEvent(d: Draft, e: SupervisorEvent): void {
  switch (e.type) {
    case 'WORKER_HELLO':
      onHello(d, e);
      return;
    case 'HEARTBEAT':
      onHeartbeat(d, e);
      return;
    case 'WORKER_STATE':
      onWorkerState(d, e);
      return;
    case 'SESSION_STATE':
      advance(d, e.now);
      if (fence(d, 'session.state', e.worker, e.epoch)) onSessionState(d, e);
      return;
    case 'SESSION_ENDED':
      advance(d, e.now);
      if (fence(d, 'session.ended', e.worker, e.epoch)) onSessionEnded(d, e);
      return;
    case 'SESSION_SPEECH':
      onSessionSpeech(d, e);
      return;
    case 'REJECTED':
      reject(d, e.reason);
      return;
    case 'WORKER_SPAWNED':
      onWorkerSpawned(d, e);
      return;
    case 'WORKER_EXITED':
      onWorkerExited(d, e);
      return;
    case 'DISPATCH':
      onDispatch(d, e);
      return;
    case 'PLACE_FAILED':
      onPlaceFailed(d, e);
      return;
    case 'DRAIN':
      onDrain(d, e);
      return;
    case 'ROLLOUT':
      onRollout(d, e);
      return;
    case 'TICK':
      onTick(d);
      breakerTick(d);
      return;
    case 'BUS':
      onBus(d, e);
      return;
    case 'HEARD':
      onHeard(d, e);
      return;
    case 'RESPAWN':
      onRespawn(d, e);
      return;
  }
}

const respawnId = (worker: string) => `respawn:${worker}`;

export const supervisorMachine = setup({
  types: {} as {
    context: SupervisorContext;
    input: SupervisorInput;
    events: SupervisorEvent;
    emitted: SupervisorEmitted;
  },
  delays: {
    heartbeatTick: ({ context }) => livenessTickMs(context),
    drainDeadline: ({ context }) => context.drainTimeoutMs + context.drainGraceMs,
  },
  guards: {
    allWorkersDown: ({ context }) => Object.values(context.workers).every(isDown),
  },
  actions: {
    enter: enqueueActions(
      ({ context, event, enqueue }, params: { state: SupervisorState; from: SupervisorState | null }) => {
        const seq = context.seq + 1;
        enqueue.assign({ seq });
        enqueue.emit({
          type: 'supervisor.transition',
          from: params.from,
          to: params.state,
          seq,
          event: event.type,
        });
        if (params.state === 'draining' && context.health !== 'draining') {
          enqueue.assign({ health: 'draining' });
          enqueue.emit({ type: 'pool.health', health: 'draining', previous: context.health });
        }
      },
    ),
    /**
     * Runs the pool reducer for the current event, in the machine's current state (read from the
     * snapshot, never from a copy in context), and carries out its effects. A `DRAIN` applies in
     * `running`: entering `draining` then reports the drain.
     */
    apply: enqueueActions(({ context, event, enqueue, check }) => {
      // `check` is typed for inline predicates only; the stateIn guard is evaluated the same way.
      const inDraining = stateIn('draining') as unknown as Parameters<typeof check>[0];
      const mode: SupervisorState = check(inDraining) ? 'draining' : 'running';
      const { context: next, effects } = reducePool(context, event, mode);
      enqueue.assign(() => next);
      for (const effect of effects) {
        if (effect.kind === 'emit') enqueue.emit(effect.event);
        else if (effect.kind === 'cancelRespawn') enqueue.cancel(respawnId(effect.worker));
        else {
          enqueue.raise(
            { type: 'RESPAWN', worker: effect.worker, at: effect.at },
            { delay: effect.delayMs, id: respawnId(effect.worker) },
          );
        }
      }
    }),
    /** First start of every local worker. */
    spawnLocalWorkers: enqueueActions(({ context, enqueue }) => {
      for (const w of Object.values(context.workers)) {
        if (w.local) enqueue.emit({ type: 'worker.spawn', worker: w.id, attempt: 0, restarts: 0 });
      }
    }),
    /** Workers that outlived a previous supervisor answer with a hello carrying their sessions. */
    announceStart: enqueueActions(({ context, enqueue }) => {
      const d = draft(context);
      announce(d, 'started');
      enqueue.assign(() => d.ctx);
      for (const effect of d.effects) if (effect.kind === 'emit') enqueue.emit(effect.event);
    }),
    scheduleTick: enqueueActions(({ enqueue }) => {
      enqueue.raise({ type: 'TICK' }, { delay: 'heartbeatTick', id: 'tick' });
    }),
    drainDeadline: enqueueActions(({ context, enqueue }) => {
      const d = draft(context, 'draining');
      onDrainDeadline(d);
      settle(d);
      enqueue.assign(() => d.ctx);
      for (const effect of d.effects) if (effect.kind === 'emit') enqueue.emit(effect.event);
    }),
  },
}).createMachine({
  id: 'supervisor',
  description:
    'The pool: agent registry, workers (epochs, fencing, generations, last errors, rejection counters), rollouts, sessions (seq, placement, start transport) and the bounded record of ended sessions. Worker and session reports, dispatches and the periodic loss check (`TICK`, five times per heartbeatMs) are applied by the pure reducers in pool-*.ts; side effects leave as emitted events.',
  context: ({ input }) => {
    const heartbeatMs = input.heartbeatMs ?? 1_000;
    const missedHeartbeats = input.missedHeartbeats ?? 3;
    const now = input.now ?? 0;
    return {
      pool: input.pool,
      registry: input.registry,
      policy: resolveRestartPolicy(input.policy),
      heartbeatMs,
      missedHeartbeats,
      helloTimeoutMs: input.helloTimeoutMs ?? 30_000,
      placementGraceMs: input.placementGraceMs ?? heartbeatMs * missedHeartbeats,
      drainTimeoutMs: input.drainTimeoutMs ?? 30_000,
      drainGraceMs: input.drainGraceMs ?? 5_000,
      endedLimit: input.endedLimit ?? 500,
      workers: Object.fromEntries(
        (input.localWorkers ?? []).map((w) => [w.id, localWorker(w.id, w.capacity ?? 1, now, w.spare)]),
      ),
      sessions: {},
      jobs: {},
      ended: (input.ended ?? []).slice(-(input.endedLimit ?? 500)),
      health: 'ok',
      now,
      clock: now,
      rng: input.seed ?? seedFrom(input.pool),
      rejected: {},
      busDown: false,
      heardUpTo: null,
      announcedAt: null,
      drain: { since: null, cut: 0 },
      seq: 0,
      limits: resolveLimits(input.limits),
      breaker: input.breaker ?? null,
      breakers: {},
      generation: (input.localWorkers ?? []).length > 0 ? 1 : 0,
      rollout: null,
    };
  },
  entry: ['spawnLocalWorkers', 'announceStart', 'scheduleTick'],
  on: {
    WORKER_HELLO: { actions: 'apply' },
    HEARTBEAT: { actions: 'apply' },
    WORKER_STATE: { actions: 'apply' },
    SESSION_STATE: { actions: 'apply' },
    SESSION_ENDED: { actions: 'apply' },
    SESSION_SPEECH: { actions: 'apply' },
    WORKER_SPAWNED: { actions: 'apply' },
    WORKER_EXITED: { actions: 'apply' },
    DISPATCH: { actions: 'apply' },
    PLACE_FAILED: { actions: 'apply' },
    BUS: { actions: 'apply' },
    HEARD: { actions: 'apply' },
    RESPAWN: { actions: 'apply' },
    REJECTED: { actions: 'apply' },
    ROLLOUT: { actions: 'apply' },
    TICK: { actions: ['apply', 'scheduleTick'] },
  },
  initial: 'running',
  states: {
    running: {
      description:
        'Routes and places dispatches, tracks workers and sessions, detects lost workers and restarts local ones per the restart policy.',
      entry: { type: 'enter', params: { state: 'running', from: null } },
      on: { DRAIN: { target: 'draining', actions: 'apply' } },
    },
    draining: {
      description:
        'Refuses new dispatches (code draining) and asks every worker to drain; stops when all workers are down, or at the drain deadline.',
      entry: { type: 'enter', params: { state: 'draining', from: 'running' } },
      always: { guard: 'allWorkersDown', target: 'stopped' },
      after: { drainDeadline: { target: 'stopped', actions: 'drainDeadline' } },
    },
    stopped: {
      description: 'Every worker has stopped (or was given up at the deadline).',
      type: 'final',
      entry: { type: 'enter', params: { state: 'stopped', from: 'draining' } },
    },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
