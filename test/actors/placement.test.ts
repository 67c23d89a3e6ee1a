import { describe, expect, it } from 'vitest';
import { placeSession, type WorkerLoad } from '../../src/actors/placement.ts';

const worker = (id: string, active: number, capacity = 4, patch: Partial<WorkerLoad> = {}): WorkerLoad => ({
  id,
  state: 'ready',
  available: true,
  capacity,
  active,
  ...patch,
});

/** Places `n` sessions one after another, as the supervisor would. */
function placeMany(workers: WorkerLoad[], n: number): string[] {
  const pool = workers.map((w) => ({ ...w }));
  const placed: string[] = [];
  for (let i = 0; i < n; i++) {
    const result = placeSession(pool);
    if (!result.ok) break;
    placed.push(result.worker);
    const w = pool.find((x) => x.id === result.worker) as WorkerLoad;
    w.active += 1;
    if (w.active >= w.capacity) w.state = 'full';
  }
  return placed;
}

describe('placement', () => {
  it('picks the least-loaded ready worker', () => {
    expect(placeSession([worker('a', 3), worker('b', 1), worker('c', 2)])).toEqual({ ok: true, worker: 'b' });
  });

  it('compares load as a fraction of capacity, not a count', () => {
    expect(placeSession([worker('a', 2, 4), worker('b', 3, 10)])).toEqual({ ok: true, worker: 'b' });
  });

  it('breaks ties by fewer sessions, then by worker id', () => {
    expect(placeSession([worker('b', 0), worker('a', 0)])).toEqual({ ok: true, worker: 'a' });
    expect(placeSession([worker('a', 2, 4), worker('b', 1, 2)])).toEqual({ ok: true, worker: 'b' });
  });

  it('spreads sessions evenly over the pool', () => {
    const placed = placeMany([worker('w1', 0), worker('w2', 0), worker('w3', 0)], 6);
    expect(placed.filter((w) => w === 'w1')).toHaveLength(2);
    expect(placed.filter((w) => w === 'w2')).toHaveLength(2);
    expect(placed.filter((w) => w === 'w3')).toHaveLength(2);
  });

  it('never exceeds a worker capacity', () => {
    const placed = placeMany([worker('w1', 0, 2), worker('w2', 0, 3)], 10);
    expect(placed).toHaveLength(5);
    expect(placed.filter((w) => w === 'w1')).toHaveLength(2);
    expect(placed.filter((w) => w === 'w2')).toHaveLength(3);
  });

  it('skips workers that are not ready or not available', () => {
    const result = placeSession([
      worker('a', 0, 4, { state: 'prewarming' }),
      worker('b', 0, 4, { available: false }),
      worker('c', 3, 4),
    ]);
    expect(result).toEqual({ ok: true, worker: 'c' });
  });

  it('reports no_capacity with the pool capacity and load', () => {
    const result = placeSession([
      worker('a', 2, 2, { state: 'full' }),
      worker('b', 4, 4, { state: 'full' }),
      worker('c', 0, 4, { state: 'starting' }),
    ]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('no_capacity');
    expect(result.error.message).toContain('6/6 sessions (100% load)');
    expect(result.error.message).toContain('1 worker(s) not ready');
    expect(result.error.details).toMatchObject({ capacity: 6, active: 6, workers: 3 });
  });

  it('an empty pool is no_capacity too', () => {
    const result = placeSession([]);
    expect(result.ok ? null : result.error.code).toBe('no_capacity');
  });
});
