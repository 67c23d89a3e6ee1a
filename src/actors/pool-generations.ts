import type { ErrorData } from '../protocol/index.ts';
import {
  advance,
  type Draft,
  emit,
  endSession,
  isLive,
  liveSessionsOn,
  patchWorker,
  writable,
} from './pool.ts';
import { localWorker } from './pool-workers.ts';
import type { RolloutView, SupervisorContext, SupervisorEvent, WorkerView } from './supervisor.types.ts';

/**
 * Worker generations and rolling upgrades (docs/operations.md). New sessions go to the newest
 * generation that has a ready worker; older generations serve only the sessions they run. A rollout
 * spawns a new generation of local workers, keeps it out of placement until every one of them is
 * ready, then drains the older generations: they take nothing new, their sessions finish on their
 * own code, and each worker leaves the pool once down. A new generation that fails (import,
 * prewarm, or not ready in time) is stopped, and the older one serves on.
 */

type EventOf<T extends SupervisorEvent['type']> = Extract<SupervisorEvent, { type: T }>;

export const DEFAULT_ROLLOUT_TIMEOUT_MS = 120_000;

/** A worker that may take new sessions if its generation serves (state aside). */
export function placeable(w: WorkerView): boolean {
  return (
    !w.spare &&
    !w.pending &&
    !w.retiring &&
    w.epoch !== null &&
    (w.supervision === 'up' || w.supervision === 'remote')
  );
}

/** The generation new sessions go to: the newest with a placeable ready (or full) worker; null if none. */
export function servingGeneration(ctx: SupervisorContext): number | null {
  let newest: number | null = null;
  for (const w of Object.values(ctx.workers)) {
    if (!placeable(w) || (w.state !== 'ready' && w.state !== 'full')) continue;
    if (newest === null || w.generation > newest) newest = w.generation;
  }
  return newest;
}

/**
 * A worker reported its code version (hello or heartbeat). A local worker keeps the generation it
 * was spawned in. A remote one joins the generation of the workers with the same code; new code
 * makes a new, newer generation, unless local workers of the newest generation have not reported
 * theirs yet (it may be the same code): then it waits, at generation 0, for the next report.
 */
export function onCode(d: Draft, id: string, code: string | undefined): void {
  const w = d.ctx.workers[id];
  if (!w || code === undefined) return;
  if (w.local) {
    if (w.code !== code) patchWorker(d, id, { code });
    return;
  }
  if (w.code === code && w.generation > 0) return;
  const others = Object.values(d.ctx.workers).filter((o) => o.id !== id && !o.retiring);
  const same = others.filter((o) => o.code === code && o.generation > 0);
  let generation = 0;
  if (same.length > 0) {
    generation = Math.max(...same.map((o) => o.generation));
  } else if (
    !others.some(
      (o) => o.local && o.generation === d.ctx.generation && o.code === null && o.supervision === 'up',
    )
  ) {
    d.ctx.generation += 1;
    generation = d.ctx.generation;
  }
  patchWorker(d, id, { code, generation });
}

/** `ROLLOUT`: refused while the pool drains or another rollout runs; else spawns the new generation. */
export function onRollout(d: Draft, e: EventOf<'ROLLOUT'>): void {
  advance(d, e.now);
  const refuse = (error: ErrorData) =>
    emit(d, { type: 'rollout.result', requestId: e.requestId, ok: false, error });
  if (d.mode !== 'running') {
    refuse({ code: 'draining', message: `pool ${d.ctx.pool} is draining: no rollout` });
    return;
  }
  const current = d.ctx.rollout;
  if (current?.state === 'starting') {
    refuse({
      code: 'rollout_in_progress',
      message: `a rollout to generation ${current.generation} is under way (started ${d.ctx.now - current.startedAt} ms ago)`,
      details: { generation: current.generation },
    });
    return;
  }
  if (e.workers.length === 0) {
    // Remote workers only: the newest ready generation is the one; the older ones drain.
    const generation = servingGeneration(d.ctx);
    if (generation === null) {
      refuse({ code: 'rollout_failed', message: `pool ${d.ctx.pool} has no ready worker to roll out to` });
      return;
    }
    d.ctx.rollout = start(d, e, generation, []);
    finish(d);
    return;
  }
  d.ctx.generation += 1;
  const generation = d.ctx.generation;
  const workers = writable(d, 'workers');
  for (const spec of e.workers) {
    workers[spec.id] = {
      ...localWorker(spec.id, spec.capacity, d.ctx.now, spec.spare ?? false, generation),
      pending: true,
    };
    emit(d, { type: 'worker.spawn', worker: spec.id, attempt: 0, restarts: 0 });
  }
  d.ctx.rollout = start(
    d,
    e,
    generation,
    e.workers.map((w) => w.id),
  );
}

function start(d: Draft, e: EventOf<'ROLLOUT'>, generation: number, workers: string[]): RolloutView {
  return {
    requestId: e.requestId,
    generation,
    state: 'starting',
    startedAt: d.ctx.now,
    endedAt: null,
    deadline: d.ctx.now + (e.timeoutMs ?? DEFAULT_ROLLOUT_TIMEOUT_MS),
    workers,
    drained: [],
  };
}

/**
 * Moves a rollout on after any event: it fails when one of its workers failed, stopped or was lost,
 * or at its deadline; it is done when all its workers are ready.
 */
export function progressRollout(d: Draft): void {
  const r = d.ctx.rollout;
  if (r?.state !== 'starting') return;
  if (d.mode !== 'running' || d.ctx.drain.since !== null) {
    fail(d, { code: 'draining', message: `pool ${d.ctx.pool} began to drain during the rollout` });
    return;
  }
  for (const id of r.workers) {
    const w = d.ctx.workers[id];
    if (w && w.state !== 'failed' && w.supervision === 'up') continue;
    fail(
      d,
      w?.error ?? {
        code: 'rollout_failed',
        message: `worker ${id} of generation ${r.generation} stopped before it was ready`,
      },
    );
    return;
  }
  const ready = r.workers.every((id) => {
    const w = d.ctx.workers[id] as WorkerView;
    return w.epoch !== null && (w.state === 'ready' || w.state === 'full');
  });
  if (ready) {
    for (const id of r.workers) {
      const { pending, ...rest } = d.ctx.workers[id] as WorkerView;
      writable(d, 'workers')[id] = rest;
    }
    finish(d);
  } else if (d.ctx.now >= r.deadline) {
    const waiting = r.workers.filter((id) => d.ctx.workers[id]?.state !== 'ready');
    fail(d, {
      code: 'rollout_failed',
      message: `generation ${r.generation} was not ready within ${r.deadline - r.startedAt} ms (waiting for ${waiting.join(', ')})`,
    });
  }
}

/** The rollout's generation serves: every worker of an older generation drains and will leave. */
function finish(d: Draft): void {
  const r = d.ctx.rollout as RolloutView;
  const drained: string[] = [];
  for (const w of Object.values(d.ctx.workers)) {
    if (w.generation >= r.generation || w.retiring || r.workers.includes(w.id)) continue;
    drained.push(w.id);
    retire(d, w, `generation ${r.generation} replaces generation ${w.generation}`);
  }
  d.ctx.rollout = { ...r, state: 'done', endedAt: d.ctx.now, drained };
  emit(d, { type: 'rollout.result', requestId: r.requestId, ok: true, rollout: d.ctx.rollout });
}

/** The new generation failed: its workers are stopped and leave; the older generations serve on. */
function fail(d: Draft, error: ErrorData): void {
  const r = d.ctx.rollout as RolloutView;
  for (const id of r.workers) {
    const w = d.ctx.workers[id];
    if (w) retire(d, w, `rollout to generation ${r.generation} failed`, true);
  }
  d.ctx.rollout = { ...r, state: 'failed', endedAt: d.ctx.now, error };
  emit(d, {
    type: 'rollout.result',
    requestId: r.requestId,
    ok: false,
    error: { ...error, details: { ...error.details, generation: r.generation } },
    rollout: d.ctx.rollout,
  });
}

/**
 * Takes a worker out of the pool for good: a live one drains (or, `kill`, is stopped at once: it
 * holds no sessions), one still booting is killed, one already down leaves at once.
 */
function retire(d: Draft, w: WorkerView, reason: string, kill = false): void {
  const alive = w.epoch !== null && w.state !== 'stopped' && w.state !== 'failed';
  patchWorker(d, w.id, { retiring: true });
  if (alive && !kill) {
    emit(d, { type: 'worker.drain', worker: w.id, timeoutMs: d.ctx.drainTimeoutMs });
  } else if (w.local && w.supervision === 'up' && w.state !== 'stopped') {
    emit(d, { type: 'worker.kill', worker: w.id, pid: w.pid, reason });
  } else if (w.supervision === 'restarting') {
    d.effects.push({ kind: 'cancelRespawn', worker: w.id });
    removeWorker(d, w.id, reason);
  } else if (!alive) {
    removeWorker(d, w.id, reason);
  }
}

/**
 * A retiring worker is down (stopped, exited or lost): sessions it still held are lost, and it
 * leaves the pool (and status). Its later messages are fenced as from an unknown worker.
 */
export function removeWorker(d: Draft, id: string, why: string): void {
  for (const s of liveSessionsOn(d, id)) {
    endSession(
      d,
      s,
      'failed',
      { code: 'worker_lost', message: `${why}; session ${s} was running on it` },
      'lost',
    );
  }
  delete writable(d, 'workers')[id];
}

/** A retiring remote worker reported `stopped`: it leaves. (A local one leaves when its process exits.) */
export function retiredStopped(d: Draft, id: string): void {
  const w = d.ctx.workers[id];
  if (w?.retiring && !w.local && w.state === 'stopped') removeWorker(d, id, `worker ${id} stopped`);
}

export interface GenerationView {
  generation: number;
  code: string | null;
  workers: string[];
  sessions: number;
  serving: boolean;
  draining: boolean;
  pending: boolean;
}

/** The pool's generations, oldest first: their code, workers and live sessions. */
export function generations(ctx: SupervisorContext): GenerationView[] {
  const serving = servingGeneration(ctx);
  const by = new Map<number, GenerationView>();
  for (const w of Object.values(ctx.workers).sort((a, b) => a.id.localeCompare(b.id))) {
    const g = by.get(w.generation) ?? {
      generation: w.generation,
      code: null,
      workers: [],
      sessions: 0,
      serving: w.generation === serving,
      draining: false,
      pending: false,
    };
    g.workers.push(w.id);
    g.code ??= w.code;
    if (w.retiring) g.draining = true;
    if (w.pending) g.pending = true;
    by.set(w.generation, g);
  }
  for (const s of Object.values(ctx.sessions)) {
    const w = ctx.workers[s.worker];
    const g = w && by.get(w.generation);
    if (g && isLive(s)) g.sessions += 1;
  }
  return [...by.values()].sort((a, b) => a.generation - b.generation);
}
