import type { ErrorData, WorkerState } from '../protocol/index.ts';

/** What placement needs to know about a worker. */
export interface WorkerLoad {
  id: string;
  state: WorkerState;
  /** False when the worker cannot take sessions whatever its state says (lost, restarting). */
  available: boolean;
  capacity: number;
  /** Sessions placed on it and not yet ended. */
  active: number;
}

export type PlacementResult = { ok: true; worker: string } | { ok: false; error: ErrorData };

/**
 * Picks the least-loaded `ready` worker with a free slot. Load is active/capacity; ties go to the
 * worker with fewer sessions, then to the smaller id, so the same pool always gives the same answer.
 */
export function placeSession(workers: readonly WorkerLoad[]): PlacementResult {
  const open = workers.filter((w) => w.available && w.state === 'ready' && w.active < w.capacity);
  if (open.length === 0) return { ok: false, error: noCapacity(workers) };
  const best = [...open].sort(
    (a, b) =>
      a.active / a.capacity - b.active / b.capacity ||
      a.active - b.active ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )[0] as WorkerLoad;
  return { ok: true, worker: best.id };
}

function noCapacity(workers: readonly WorkerLoad[]): ErrorData {
  const serving = workers.filter((w) => w.available && (w.state === 'ready' || w.state === 'full'));
  const capacity = serving.reduce((n, w) => n + w.capacity, 0);
  const active = serving.reduce((n, w) => n + w.active, 0);
  const notReady = workers.length - serving.length;
  const load = capacity === 0 ? 'no serving capacity' : `${Math.round((active / capacity) * 100)}% load`;
  return {
    code: 'no_capacity',
    message:
      `No worker has a free session slot: ${serving.length} serving worker(s) hold ${active}/${capacity} sessions (${load})` +
      (notReady > 0 ? `; ${notReady} worker(s) not ready` : ''),
    details: { workers: workers.length, serving: serving.length, capacity, active },
  };
}
