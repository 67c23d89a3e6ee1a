import { describe, expect, it } from 'vitest';
import { generations, servingGeneration } from '../../src/actors/pool-generations.ts';
import type { WorkerState } from '../../src/protocol/index.ts';
import { pool, summary } from './supervisor-support.ts';

const OLD = 'aaaaaaaaaaaaaaaa';
const NEW = 'bbbbbbbbbbbbbbbb';

type Pool = ReturnType<typeof pool>;

/** A heartbeat that carries the worker's code version (what a prewarmed worker sends). */
function beat(
  p: Pool,
  worker: string,
  epoch: string,
  code: string | undefined,
  opts: { state?: WorkerState; sessions?: ReturnType<typeof summary>[] } = {},
) {
  p.send({
    type: 'HEARTBEAT',
    now: p.clock.now(),
    worker,
    epoch,
    state: opts.state ?? 'ready',
    active: opts.sessions?.length ?? 0,
    capacity: 4,
    rssBytes: 1,
    prewarm: { status: 'ok', ms: 50 },
    sessions: opts.sessions ?? [],
    ...(code ? { code } : {}),
  });
}

/** Hello, then a ready heartbeat with `code`. */
function join(p: Pool, worker: string, epoch: string, code: string | undefined) {
  p.hello(worker, epoch);
  beat(p, worker, epoch, code);
}

function rollout(p: Pool, requestId: string, ids: string[], timeoutMs?: number) {
  p.send({
    type: 'ROLLOUT',
    now: p.clock.now(),
    requestId,
    workers: ids.map((id) => ({ id, capacity: 4 })),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
}

const LOCAL = [
  { id: 'w1', capacity: 4 },
  { id: 'w2', capacity: 4 },
];

describe('worker generations and rollouts (simulated clock)', () => {
  it('a rollout spawns a new generation that takes no sessions until all of it is ready, then the old one drains', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    join(p, 'w2', 'e2', OLD);
    expect(p.dispatch({ sessionId: 'old-a' })).toMatchObject({ ok: true, worker: 'w1' });
    p.sessionState('old-a', 'w1', 'e1', 'active', 4);

    rollout(p, 'r1', ['n1', 'n2']);
    expect(
      p
        .of('worker.spawn')
        .slice(-2)
        .map((e) => e.worker),
    ).toEqual(['n1', 'n2']);
    expect(p.ctx().workers.n1).toMatchObject({ generation: 2, pending: true, local: true });
    // n1 is ready, n2 still boots: the new generation is pending, the old one serves.
    join(p, 'n1', 'en1', NEW);
    expect(p.dispatch({ sessionId: 'during' })).toMatchObject({ ok: true, worker: 'w2' });
    expect(p.of('rollout.result')).toEqual([]);
    expect(p.of('worker.drain')).toEqual([]);

    join(p, 'n2', 'en2', NEW);
    const [result] = p.of('rollout.result');
    expect(result).toMatchObject({
      ok: true,
      rollout: { generation: 2, state: 'done', workers: ['n1', 'n2'], drained: ['w1', 'w2'] },
    });
    expect(p.of('worker.drain').map((e) => e.worker)).toEqual(['w1', 'w2']);
    expect(servingGeneration(p.ctx())).toBe(2);
    // New sessions get the new code; the old sessions keep running where they are.
    for (let i = 0; i < 6; i++) {
      const r = p.dispatch({ sessionId: `new-${i}` });
      expect(r.ok && ['n1', 'n2'].includes(r.worker)).toBe(true);
    }
    expect(p.ctx().sessions['old-a']).toMatchObject({ worker: 'w1', state: 'active' });
    expect(generations(p.ctx())).toMatchObject([
      { generation: 1, code: OLD, workers: ['w1', 'w2'], sessions: 2, draining: true, serving: false },
      { generation: 2, code: NEW, workers: ['n1', 'n2'], sessions: 6, draining: false, serving: true },
    ]);
  });

  it('a drained worker finishes its sessions on its own code, then leaves the pool and is never restarted', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    join(p, 'w2', 'e2', OLD);
    p.dispatch({ sessionId: 'old-a' });
    p.sessionState('old-a', 'w1', 'e1', 'active', 4);
    rollout(p, 'r1', ['n1', 'n2']);
    join(p, 'n1', 'en1', NEW);
    join(p, 'n2', 'en2', NEW);
    // w1 drains: its session ends normally, it reports stopped and exits 0.
    beat(p, 'w1', 'e1', OLD, { state: 'draining', sessions: [summary('old-a', 'active', 4, 'restaurant')] });
    p.send({
      type: 'SESSION_ENDED',
      now: p.clock.now(),
      session: 'old-a',
      worker: 'w1',
      epoch: 'e1',
      seq: 6,
      outcome: 'success',
    });
    p.send({ type: 'WORKER_STATE', now: p.clock.now(), worker: 'w1', epoch: 'e1', state: 'stopped' });
    p.exit('w1', 0);
    p.exit('w2', 0);
    expect(p.of('session.ended')).toMatchObject([{ sessionId: 'old-a', state: 'closed', worker: 'w1' }]);
    expect(p.of('session.lost')).toEqual([]);
    expect(Object.keys(p.ctx().workers).sort()).toEqual(['n1', 'n2']);
    // No restart is scheduled for a retired worker.
    p.clock.increment(60_000);
    expect(p.of('worker.spawn').map((e) => e.worker)).toEqual(['w1', 'w2', 'n1', 'n2']);
  });

  it('a new generation that fails to import is stopped; the old generation keeps serving, and the error names file and phase', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    join(p, 'w2', 'e2', OLD);
    rollout(p, 'r1', ['n1', 'n2']);
    p.hello('n1', 'en1');
    const reason = {
      code: 'prewarm_failed' as const,
      message:
        "prewarm failed: agent 'dental' (/agents/dental.ts) failed at import: SyntaxError: Unexpected token",
    };
    p.send({ type: 'WORKER_STATE', now: p.clock.now(), worker: 'n1', epoch: 'en1', state: 'failed', reason });
    const [result] = p.of('rollout.result');
    expect(result).toMatchObject({
      ok: false,
      error: { message: reason.message, details: { generation: 2 } },
    });
    expect(p.ctx().rollout).toMatchObject({ state: 'failed', error: reason });
    // n2 (still booting) is killed; n1 exits by itself. Neither restarts; both leave.
    expect(p.of('worker.kill').map((e) => e.worker)).toContain('n2');
    p.exit('n1', 3);
    p.exit('n2', null, 'SIGKILL');
    p.clock.increment(60_000);
    expect(Object.keys(p.ctx().workers).sort()).toEqual(['w1', 'w2']);
    expect(p.of('worker.spawn').map((e) => e.worker)).toEqual(['w1', 'w2', 'n1', 'n2']);
    expect(p.of('worker.drain')).toEqual([]);
    expect(p.dispatch({ sessionId: 'after' })).toMatchObject({ ok: true, worker: 'w1' });
    // A later rollout may try again.
    rollout(p, 'r2', ['m1']);
    expect(p.ctx().rollout).toMatchObject({ generation: 3, state: 'starting' });
  });

  it('a new generation whose process dies before its state report still fails the rollout', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    rollout(p, 'r1', ['n1']);
    p.exit('n1', 3);
    expect(p.of('rollout.result')).toMatchObject([{ ok: false, error: { code: 'worker_lost' } }]);
    expect(p.ctx().workers.n1).toBeUndefined();
    expect(p.ctx().workers.w1?.retiring).toBeUndefined();
  });

  it('a new generation not ready by the deadline fails the rollout', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    join(p, 'w2', 'e2', OLD);
    rollout(p, 'r1', ['n1'], 5000);
    p.hello('n1', 'en1');
    // n1 is alive but still prewarming.
    const prewarming = () => beat(p, 'n1', 'en1', undefined, { state: 'prewarming' });
    for (let i = 0; i < 4; i++) {
      p.advance(1000, ['w1', 'w2']);
      prewarming();
    }
    p.advance(900, ['w1', 'w2']);
    expect(p.of('rollout.result')).toEqual([]);
    p.advance(1100, ['w1', 'w2']);
    expect(p.of('rollout.result')).toMatchObject([
      { ok: false, error: { code: 'rollout_failed', message: expect.stringContaining('n1') } },
    ]);
  });

  it('refuses a second rollout while one is under way, and any rollout while the pool drains', () => {
    const p = pool({ localWorkers: LOCAL });
    join(p, 'w1', 'e1', OLD);
    rollout(p, 'r1', ['n1']);
    rollout(p, 'r2', ['m1']);
    expect(p.of('rollout.result')).toMatchObject([
      { requestId: 'r2', ok: false, error: { code: 'rollout_in_progress' } },
    ]);
    p.send({ type: 'DRAIN', now: p.clock.now() });
    rollout(p, 'r3', ['k1']);
    expect(p.of('rollout.result').map((r) => [r.requestId, r.ok ? 'ok' : r.error.code])).toEqual([
      ['r2', 'rollout_in_progress'],
      ['r1', 'draining'],
      ['r3', 'draining'],
    ]);
  });

  it('a remote worker with newer code is a newer generation: it gets new sessions; a rollout with no local workers drains the older ones', () => {
    const p = pool();
    join(p, 'r1', 'e1', OLD);
    join(p, 'r2', 'e2', OLD);
    expect(p.ctx().workers.r1?.generation).toBe(1);
    expect(p.ctx().workers.r2?.generation).toBe(1);
    expect(p.dispatch({ sessionId: 'a' })).toMatchObject({ ok: true, worker: 'r1' });
    // r3 joins with new code: generation 2, and new sessions go to it only.
    p.hello('r3', 'e3');
    expect(p.ctx().workers.r3?.generation).toBe(0);
    beat(p, 'r3', 'e3', NEW);
    expect(p.ctx().workers.r3?.generation).toBe(2);
    for (let i = 0; i < 4; i++) expect(p.dispatch({ sessionId: `b${i}` })).toMatchObject({ worker: 'r3' });
    expect(p.dispatch({ sessionId: 'c' })).toMatchObject({ ok: false, error: { code: 'no_capacity' } });
    // A fourth worker with the same new code joins generation 2.
    join(p, 'r4', 'e4', NEW);
    expect(p.ctx().workers.r4?.generation).toBe(2);
    p.send({ type: 'ROLLOUT', now: p.clock.now(), requestId: 'ro', workers: [] });
    expect(p.of('rollout.result')).toMatchObject([
      { ok: true, rollout: { generation: 2, state: 'done', drained: ['r1', 'r2'] } },
    ]);
    // A drained remote worker leaves once it reports stopped.
    beat(p, 'r2', 'e2', OLD, { state: 'stopped' });
    expect(p.ctx().workers.r2).toBeUndefined();
    expect(p.ctx().workers.r1?.retiring).toBe(true);
  });

  it('a remote worker waits for the local generation to report its code before it makes a new one', () => {
    const p = pool({ localWorkers: LOCAL });
    p.hello('w1', 'e1');
    p.hello('w2', 'e2');
    // The remote worker is prewarmed first; the local ones have not reported their code yet.
    join(p, 'r1', 'er', OLD);
    expect(p.ctx().workers.r1?.generation).toBe(0);
    beat(p, 'w1', 'e1', OLD);
    beat(p, 'w2', 'e2', OLD);
    beat(p, 'r1', 'er', OLD);
    expect(p.ctx().workers.r1?.generation).toBe(1);
    const placed = new Set(
      Array.from({ length: 9 }, (_, i) => p.dispatch({ sessionId: `s${i}` })).map((r) => r.ok && r.worker),
    );
    expect(placed).toEqual(new Set(['w1', 'w2', 'r1']));
  });

  it("a remote worker's ready report carries its code: it joins its generation without waiting for a heartbeat", () => {
    const p = pool();
    join(p, 'r1', 'e1', OLD);
    p.hello('r2', 'e2');
    p.send({
      type: 'WORKER_STATE',
      now: p.clock.now(),
      worker: 'r2',
      epoch: 'e2',
      state: 'ready',
      code: OLD,
    });
    expect(p.ctx().workers.r2).toMatchObject({ generation: 1, code: OLD, state: 'ready' });
    expect(p.dispatch({ sessionId: 'a' })).toMatchObject({ worker: 'r1' });
    expect(p.dispatch({ sessionId: 'b' })).toMatchObject({ worker: 'r2' });
  });

  it('a worker that reports no code version (an older build) is placed only while no generation is known', () => {
    const p = pool();
    join(p, 'old', 'e1', undefined);
    expect(p.dispatch({ sessionId: 'a' })).toMatchObject({ ok: true, worker: 'old' });
    join(p, 'new', 'e2', NEW);
    expect(p.dispatch({ sessionId: 'b' })).toMatchObject({ ok: true, worker: 'new' });
  });
});
