import { nextRandom } from './backoff.ts';
import {
  advance,
  type Draft,
  emit,
  endSession,
  liveSessionsOn,
  patchWorker,
  reject,
  writable,
} from './pool.ts';
import { onCode, removeWorker, retiredStopped } from './pool-generations.ts';
import { reconcileSessions, recordEnded, replaceUnstarted } from './pool-sessions.ts';
import {
  backoffDelay,
  isNormalExit,
  recordRestart,
  shouldRestart,
  type WorkerExit,
} from './restart-policy.ts';
import type { SupervisorEvent, WorkerView } from './supervisor.types.ts';

type EventOf<T extends SupervisorEvent['type']> = Extract<SupervisorEvent, { type: T }>;

/** Earlier incarnations of one worker id remembered for fencing (see WorkerView.lostEpochs). */
export const LOST_EPOCHS_KEPT = 8;

/** A fresh view of a local worker that is about to be spawned. */
export function localWorker(
  id: string,
  capacity: number,
  now: number,
  spare = false,
  generation = 1,
): WorkerView {
  return {
    ...(spare ? { spare: true } : {}),
    id,
    epoch: null,
    pid: null,
    host: null,
    state: 'starting',
    supervision: 'up',
    local: true,
    capacity,
    active: 0,
    rssBytes: 0,
    prewarmMs: null,
    restarts: 0,
    restartHistory: [],
    lastSeen: null,
    since: now,
    rejected: {},
    lostEpochs: [],
    generation,
    code: null,
  };
}

/** An incarnation that said hello is gone (lost, or replaced by a new one): remember it for fencing. */
function retireEpoch(d: Draft, id: string, epoch: string): void {
  const w = d.ctx.workers[id];
  if (!w || w.lostEpochs.includes(epoch)) return;
  patchWorker(d, id, { lostEpochs: [...w.lostEpochs, epoch].slice(-LOST_EPOCHS_KEPT) });
}

/**
 * Asks every worker to say hello again (`supervisor.up`), at most once per heartbeat period: a
 * worker that speaks without having said hello to this supervisor (its broadcast or the hello
 * was lost) would otherwise be ignored forever.
 */
export function announce(d: Draft, reason: string): void {
  const last = d.ctx.announcedAt;
  if (last !== null && d.ctx.now - last < d.ctx.heartbeatMs) return;
  d.ctx.announcedAt = d.ctx.now;
  emit(d, { type: 'supervisor.announce', reason });
}

/**
 * Accepts a message only from the live incarnation of a known worker. Messages from an unknown
 * worker or from another epoch (a dead process, or one declared lost) are counted and reported
 * as `worker.fenced`, never applied.
 */
export function fence(d: Draft, messageType: string, worker: string, epoch: string): boolean {
  const w = d.ctx.workers[worker];
  const reason = !w ? 'unknown_worker' : w.epoch !== epoch ? 'stale_epoch' : null;
  if (reason === null) {
    patchWorker(d, worker, { lastSeen: d.ctx.now });
    return true;
  }
  reject(d, reason);
  emit(d, { type: 'worker.fenced', worker, epoch, messageType, reason });
  if (!w) {
    announce(d, 'unknown_worker');
  } else if (w.lostEpochs.includes(epoch)) {
    // A stale incarnation still runs (it was hung, not dead): stop it, and only it, once.
    patchWorker(d, worker, { lostEpochs: w.lostEpochs.filter((e) => e !== epoch) });
    emit(d, {
      type: 'worker.shutdown',
      worker,
      epoch,
      reason: `fenced: ${reason}; this incarnation was declared lost`,
    });
  }
  return false;
}

/**
 * A worker says hello: a new incarnation, or the same one again (asked by `supervisor.up`). Its
 * listed sessions are re-adopted, its record of ended sessions is taken in, and the sessions of an
 * older incarnation it did not carry over are lost.
 */
export function onHello(d: Draft, e: EventOf<'WORKER_HELLO'>): void {
  advance(d, e.now);
  const prev = d.ctx.workers[e.worker];
  const again = prev?.epoch === e.epoch;
  if (prev?.epoch && prev.epoch !== e.epoch) {
    retireEpoch(d, e.worker, prev.epoch);
    const carried = new Set(e.sessions.map((s) => s.session));
    for (const id of liveSessionsOn(d, e.worker)) {
      if (carried.has(id)) continue;
      endSession(
        d,
        id,
        'failed',
        {
          code: 'worker_lost',
          message: `worker ${e.worker} restarted (epoch ${prev.epoch} → ${e.epoch}) without session ${id}`,
        },
        'lost',
      );
    }
  }
  if (prev?.supervision === 'restarting') d.effects.push({ kind: 'cancelRespawn', worker: e.worker });
  const local = prev?.local ?? false;
  // A remote worker's generation comes from its code version (pool-generations.ts).
  const { error, ...base } =
    d.ctx.workers[e.worker] ?? localWorker(e.worker, e.capacity, d.ctx.now, false, 0);
  writable(d, 'workers')[e.worker] = {
    ...base,
    epoch: e.epoch,
    pid: e.pid,
    host: e.host,
    // The same incarnation saying hello again is still registered as it was.
    state: again && prev ? prev.state : 'registering',
    supervision: local ? 'up' : 'remote',
    local,
    capacity: e.capacity,
    prewarmMs: again && prev ? prev.prewarmMs : null,
    lastSeen: d.ctx.now,
    since: again && prev ? prev.since : d.ctx.now,
    lostEpochs: base.lostEpochs.filter((x) => x !== e.epoch),
  };
  onCode(d, e.worker, e.code);
  reconcileSessions(d, e.worker, e.sessions, false);
  recordEnded(d, e.worker, e.ended ?? []);
  if (d.mode === 'draining')
    emit(d, { type: 'worker.drain', worker: e.worker, timeoutMs: d.ctx.drainTimeoutMs });
}

export function onHeartbeat(d: Draft, e: EventOf<'HEARTBEAT'>): void {
  advance(d, e.now);
  if (!fence(d, 'heartbeat', e.worker, e.epoch)) return;
  const w = d.ctx.workers[e.worker] as WorkerView;
  patchWorker(d, e.worker, {
    state: e.state,
    capacity: e.capacity,
    rssBytes: e.rssBytes,
    prewarmMs: e.prewarm.ms ?? w.prewarmMs,
    ...(e.rejected ? { rejected: e.rejected } : {}),
  });
  onCode(d, e.worker, e.code);
  // Ends first: a session the worker no longer lists, with its end in the record, ended as recorded.
  recordEnded(d, e.worker, e.ended ?? []);
  reconcileSessions(d, e.worker, e.sessions, true);
  if (w.spare && e.state === 'ready') serveFirstReady(d, e.worker);
  retiredStopped(d, e.worker);
}

/**
 * A spare is ready while a serving local worker is still booting (at start, or restarting after a
 * loss with no ready spare): they swap roles, so the pool serves as soon as any process is ready.
 */
function serveFirstReady(d: Draft, spareId: string): void {
  if (d.mode !== 'running') return;
  const generation = d.ctx.workers[spareId]?.generation;
  const booting = Object.values(d.ctx.workers)
    .filter(
      (w) =>
        w.local &&
        !w.spare &&
        !w.retiring &&
        w.generation === generation &&
        w.epoch === null &&
        (w.supervision === 'up' || w.supervision === 'restarting'),
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
  if (!booting) return;
  patchWorker(d, spareId, { spare: false });
  patchWorker(d, booting.id, { spare: true });
  emit(d, {
    type: 'worker.promoted',
    worker: spareId,
    replaces: booting.id,
    reason: `spare ${spareId} is ready before worker ${booting.id}`,
  });
}

export function onWorkerState(d: Draft, e: EventOf<'WORKER_STATE'>): void {
  advance(d, e.now);
  // Why it failed is kept even when the report comes late (its process exit was seen first).
  if (e.state === 'failed' && e.reason && d.ctx.workers[e.worker])
    patchWorker(d, e.worker, { error: e.reason });
  if (!fence(d, 'worker.state', e.worker, e.epoch)) return;
  const w = patchWorker(d, e.worker, { state: e.state });
  onCode(d, e.worker, e.code);
  if (w.spare && e.state === 'ready') serveFirstReady(d, e.worker);
  retiredStopped(d, e.worker);
}

/** A local worker process was started: its pid is the incarnation's until it says hello. */
export function onWorkerSpawned(d: Draft, e: EventOf<'WORKER_SPAWNED'>): void {
  advance(d, e.now);
  const w = d.ctx.workers[e.worker];
  // A pid only for the incarnation being started: never over one that said hello.
  if (!w?.local || w.supervision !== 'up' || w.epoch !== null || e.pid < 0) return;
  patchWorker(d, e.worker, { pid: e.pid });
}

/**
 * A local worker process exited. Exits of an incarnation already given up on, or of an earlier
 * one (its pid is not the current one's), are ignored.
 */
export function onWorkerExited(d: Draft, e: EventOf<'WORKER_EXITED'>): void {
  advance(d, e.now);
  const w = d.ctx.workers[e.worker];
  if (!w?.local) {
    reject(d, 'unknown_worker');
    return;
  }
  if (e.pid != null && w.pid !== null && e.pid !== w.pid) {
    reject(d, 'stale_exit');
    return;
  }
  if (e.code !== 0 && !w.error) {
    const how = e.signal ?? `code ${e.code}`;
    patchWorker(d, e.worker, {
      error: { code: 'worker_lost', message: `worker process ${e.pid ?? w.pid} exited with ${how}` },
    });
  }
  if (w.supervision !== 'up') {
    reject(d, 'stale_exit');
    return;
  }
  const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  loseWorker(d, e.worker, { code: e.code, signal: e.signal, reason: 'exit' }, `worker ${e.worker} ${how}`);
}

/** The periodic loss check: missed heartbeats, or a spawned worker that never said hello. */
/**
 * The supervisor's own NATS link changed. While it is down no heartbeat can arrive, so no worker
 * is judged by its silence; when it returns every worker gets a fresh window to be heard again.
 */
export function onBus(d: Draft, e: { now: number; connected: boolean }): void {
  advance(d, e.now);
  d.ctx.busDown = !e.connected;
  // A ping sent before the link dropped may never come back: judge from `now` until the next one.
  d.ctx.heardUpTo = null;
  if (!e.connected) return;
  for (const w of Object.values(d.ctx.workers)) {
    if (w.epoch !== null && w.lastSeen !== null) patchWorker(d, w.id, { lastSeen: d.ctx.now });
  }
}

/** A ping's reply came back: everything queued for the supervisor before `upTo` has been processed. */
export function onHeard(d: Draft, e: { now: number; upTo: number }): void {
  advance(d, e.now);
  if (d.ctx.heardUpTo === null || e.upTo > d.ctx.heardUpTo) d.ctx.heardUpTo = e.upTo;
}

/**
 * How long the loss check may wait for the supervisor to catch up on its inbound messages before
 * it judges silence up to `now` anyway: three loss windows (9 s at the default heartbeat). A ping
 * that never comes back must not switch loss detection off.
 */
export function maxDeafMs(ctx: { heartbeatMs: number; missedHeartbeats: number }): number {
  return 3 * ctx.heartbeatMs * ctx.missedHeartbeats;
}

/**
 * The time up to which the supervisor has heard everything: `now`, or, when its latest ping came
 * back from further back than one check period (it is behind on its inbound messages), that ping's
 * time; never further back than maxDeafMs.
 */
export function heardUpTo(ctx: {
  now: number;
  heardUpTo: number | null;
  heartbeatMs: number;
  missedHeartbeats: number;
}): number {
  if (ctx.heardUpTo === null) return ctx.now;
  const heard = Math.min(ctx.now, ctx.heardUpTo + livenessTickMs(ctx));
  return Math.max(heard, ctx.now - maxDeafMs(ctx));
}

/**
 * The loss check runs this many times per heartbeat period: a silent worker is found within a
 * fifth of a beat of its window (missedHeartbeats × heartbeatMs) ending, not up to a whole beat
 * later. Each check advances the machine's clock by exactly its period (a TICK carries no time),
 * so the period divides the beat and the simulated clock's 100 ms steps evenly.
 */
export const LIVENESS_CHECKS_PER_BEAT = 5;

/** How often the supervisor runs its loss check (`TICK`). */
export function livenessTickMs(ctx: { heartbeatMs: number }): number {
  return ctx.heartbeatMs / LIVENESS_CHECKS_PER_BEAT;
}

export function onTick(d: Draft): void {
  d.ctx.clock += livenessTickMs(d.ctx);
  advance(d, d.ctx.clock);
  if (d.ctx.busDown) return;
  const { now, heartbeatMs, missedHeartbeats, helloTimeoutMs } = d.ctx;
  const heard = heardUpTo(d.ctx);
  for (const w of Object.values(d.ctx.workers)) {
    const silentFor = w.lastSeen === null ? 0 : heard - w.lastSeen;
    if (
      w.epoch !== null &&
      w.state !== 'stopped' &&
      w.state !== 'failed' &&
      silentFor > heartbeatMs * missedHeartbeats
    ) {
      const why = `worker ${w.id} missed ${missedHeartbeats} heartbeats (silent for ${silentFor} ms)`;
      if (w.local) emit(d, { type: 'worker.kill', worker: w.id, pid: w.pid, reason: why });
      loseWorker(d, w.id, { code: null, signal: null, reason: 'heartbeat' }, why);
    } else if (w.local && w.supervision === 'up' && w.epoch === null && now - w.since > helloTimeoutMs) {
      const why = `worker ${w.id} did not say hello within ${helloTimeoutMs} ms of starting`;
      emit(d, { type: 'worker.kill', worker: w.id, pid: w.pid, reason: why });
      loseWorker(d, w.id, { code: null, signal: null, reason: 'hello_timeout' }, why);
    }
  }
}

/**
 * A worker is gone: its live sessions are lost (`session.lost`, code worker_lost), then the
 * restart policy decides: restart after a backoff, stop, or give up (pool degraded).
 */
export function loseWorker(d: Draft, id: string, exit: WorkerExit, why: string): void {
  // Its process is certainly gone (not just silent): what it never started can go elsewhere.
  const gone = exit.reason === 'exit';
  const epoch = d.ctx.workers[id]?.epoch;
  if (epoch) retireEpoch(d, id, epoch);
  patchWorker(d, id, { epoch: null });
  for (const s of liveSessionsOn(d, id)) {
    if (gone && replaceUnstarted(d, s)) continue;
    endSession(
      d,
      s,
      'failed',
      { code: 'worker_lost', message: `${why}; session ${s} was running on it` },
      'lost',
    );
  }
  const w = patchWorker(d, id, { epoch: null, active: 0 });
  // Drained by a rollout: it leaves the pool. Started by one not yet done: it is never restarted,
  // and the rollout fails (pool-generations.ts).
  if (w.retiring) {
    removeWorker(d, id, why);
    return;
  }
  if (w.pending) {
    // Its own report (import, prewarm) names the cause best; else how it was lost.
    const error = w.error ?? { code: 'worker_lost' as const, message: why };
    patchWorker(d, id, { supervision: 'stopped', state: 'failed', error });
    return;
  }
  if (d.mode === 'running' && w.local && !w.spare) promoteSpare(d, id, why);
  const endState = isNormalExit(exit) ? 'stopped' : 'failed';
  const { policy } = d.ctx;
  if (d.mode !== 'running') {
    patchWorker(d, id, { supervision: w.local ? 'stopped' : 'remote', state: 'stopped' });
  } else if (!w.local) {
    patchWorker(d, id, { state: 'failed' });
  } else if (!shouldRestart(policy.restart, exit)) {
    patchWorker(d, id, { supervision: 'stopped', state: endState });
  } else {
    const r = recordRestart(w.restartHistory, d.ctx.now, policy);
    if (!r.allowed) {
      patchWorker(d, id, { supervision: 'given_up', state: 'failed', restartHistory: r.history });
      const { maxRestarts, periodMs } = policy.intensity;
      emit(d, {
        type: 'worker.given_up',
        worker: id,
        restarts: w.restarts,
        maxRestarts,
        periodMs,
        reason: why,
      });
      return;
    }
    const rand = nextRandom(d.ctx.rng);
    d.ctx.rng = rand.state;
    const delayMs = backoffDelay(r.history.length, policy, rand.value);
    patchWorker(d, id, {
      supervision: 'restarting',
      state: endState,
      restarts: w.restarts + 1,
      restartHistory: r.history,
    });
    d.effects.push({ kind: 'respawn', worker: id, delayMs, at: d.ctx.now + delayMs });
  }
}

/**
 * A local worker serving sessions is lost: a ready spare takes its place at once (it starts taking
 * sessions), and the lost worker becomes a spare, so its restart boots the new spare in the
 * background. Without a ready spare nothing changes: the lost worker restarts as itself.
 */
function promoteSpare(d: Draft, lost: string, why: string): void {
  const spare = Object.values(d.ctx.workers)
    .filter(
      (w) =>
        w.spare &&
        w.local &&
        !w.pending &&
        !w.retiring &&
        w.supervision === 'up' &&
        w.epoch !== null &&
        w.state === 'ready',
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
  if (!spare) return;
  patchWorker(d, spare.id, { spare: false });
  patchWorker(d, lost, { spare: true });
  emit(d, { type: 'worker.promoted', worker: spare.id, replaces: lost, reason: why });
}

/** A restart's backoff elapsed: spawn the worker again, unless something else happened since. */
export function onRespawn(d: Draft, e: EventOf<'RESPAWN'>): void {
  advance(d, e.at);
  const w = d.ctx.workers[e.worker];
  if (w?.supervision !== 'restarting') return;
  emit(d, { type: 'worker.spawn', worker: e.worker, attempt: w.restartHistory.length, restarts: w.restarts });
  patchWorker(d, e.worker, {
    supervision: 'up',
    state: 'starting',
    epoch: null,
    pid: null,
    lastSeen: null,
    since: d.ctx.now,
  });
}

/** Asks every running worker to drain; pending restarts are called off. */
export function onDrain(d: Draft, e: EventOf<'DRAIN'>): void {
  advance(d, e.now);
  if (e.timeoutMs !== undefined) d.ctx.drainTimeoutMs = e.timeoutMs;
  d.ctx.drain = { since: d.ctx.now, cut: 0 };
  for (const w of Object.values(d.ctx.workers)) {
    if (w.epoch !== null && w.state !== 'stopped' && w.state !== 'failed') {
      emit(d, { type: 'worker.drain', worker: w.id, timeoutMs: d.ctx.drainTimeoutMs });
    } else if (w.supervision === 'restarting') {
      patchWorker(d, w.id, { supervision: 'stopped' });
      d.effects.push({ kind: 'cancelRespawn', worker: w.id });
    } else if (w.local && w.supervision === 'up' && w.epoch === null) {
      emit(d, { type: 'worker.kill', worker: w.id, pid: w.pid, reason: 'the pool is draining' });
    }
  }
}

/** The drain took too long: kill what is local, forget what is remote, and stop. */
export function onDrainDeadline(d: Draft): void {
  for (const w of Object.values(d.ctx.workers)) {
    if (isDown(w)) continue;
    const why = `worker ${w.id} did not stop within the drain deadline`;
    if (w.local) emit(d, { type: 'worker.kill', worker: w.id, pid: w.pid, reason: why });
    loseWorker(d, w.id, { code: null, signal: null, reason: 'heartbeat' }, why);
  }
}

/** A worker that needs nothing more from a draining pool. */
export function isDown(w: WorkerView): boolean {
  if (w.local) return w.supervision !== 'up';
  return w.epoch === null || w.state === 'stopped' || w.state === 'failed';
}
