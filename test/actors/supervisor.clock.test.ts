import { describe, expect, it } from 'vitest';
import { pool } from './supervisor-support.ts';

const MINUTE = 60_000;

describe('worker loss by missed heartbeats (simulated clock)', () => {
  it('a silent remote worker is lost after missedHeartbeats beats; its sessions are reported lost', () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.dispatch({ sessionId: 'a' });
    p.dispatch({ sessionId: 'b' });
    p.advance(1000);
    p.heartbeat('w2', 'e2');
    p.advance(2000);
    p.heartbeat('w2', 'e2');
    expect(p.of('session.lost')).toEqual([]);
    p.advance(1000);
    p.heartbeat('w2', 'e2');
    p.advance(1000);
    const lost = p.of('session.lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ sessionId: 'a', worker: 'w1', error: { code: 'worker_lost' } });
    expect(lost[0]?.error.message).toContain('missed 3 heartbeats');
    expect(p.ctx().workers.w1).toMatchObject({
      state: 'failed',
      epoch: null,
      supervision: 'remote',
      active: 0,
    });
    expect(p.of('worker.spawn')).toEqual([]);
    expect(p.ctx().health).toBe('ok');
    expect(p.dispatch({ sessionId: 'c' })).toMatchObject({ ok: true, worker: 'w2' });
  });

  it("while the supervisor's own NATS link is down nobody is lost; after it returns workers get a full window", () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.dispatch({ sessionId: 'a' });
    p.send({ type: 'BUS', now: p.clock.now(), connected: false });
    p.advance(10_000);
    expect(p.of('session.lost')).toEqual([]);
    p.send({ type: 'BUS', now: p.clock.now(), connected: true });
    p.advance(3000);
    expect(p.of('session.lost')).toEqual([]);
    p.advance(1000);
    expect(p.of('session.lost')).toMatchObject([{ sessionId: 'a', error: { code: 'worker_lost' } }]);
  });

  it('while the supervisor is behind on its inbound messages (its ping not back), silence is judged only up to what it has heard', () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    // Pings come back promptly: the supervisor has heard everything up to now.
    p.send({ type: 'HEARD', now: p.clock.now(), upTo: p.clock.now() });
    const behindSince = p.clock.now();
    // Then a flood: the next ping is stuck behind it, and w1's heartbeats are queued, not missing.
    p.advance(6000);
    expect(p.ctx().workers.w1?.state).toBe('ready');
    // The flood is through: the heartbeat queued behind it arrives, then the ping sent 6 s ago.
    p.heartbeat('w1', 'e1');
    p.send({ type: 'HEARD', now: p.clock.now(), upTo: behindSince + 6000 });
    p.advance(3000);
    expect(p.ctx().workers.w1?.state).toBe('ready');
    // Caught up, and w1 truly silent: lost once a full window has passed since its last beat.
    p.send({ type: 'HEARD', now: p.clock.now(), upTo: p.clock.now() });
    p.advance(200);
    expect(p.ctx().workers.w1).toMatchObject({ state: 'failed', epoch: null });
  });

  it('a ping that never comes back delays loss detection by at most three loss windows', () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.send({ type: 'HEARD', now: p.clock.now(), upTo: p.clock.now() });
    // Silent from here and no ping returns: judged up to now − 9 s, so lost once that is 3 s past.
    p.advance(12_000);
    expect(p.ctx().workers.w1?.state).toBe('ready');
    p.advance(400);
    expect(p.ctx().workers.w1).toMatchObject({ state: 'failed', epoch: null });
  });

  it('a lost worker that keeps talking with its old epoch is fenced; a new hello re-admits it', () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.advance(5000);
    expect(p.ctx().workers.w1?.epoch).toBeNull();
    p.heartbeat('w1', 'e1');
    expect(p.ctx().workers.w1?.state).toBe('failed');
    expect(p.of('worker.fenced')).toMatchObject([{ worker: 'w1', epoch: 'e1', reason: 'stale_epoch' }]);
    p.join('w1', 'e1b');
    expect(p.ctx().workers.w1).toMatchObject({ state: 'ready', epoch: 'e1b' });
  });

  it('a local worker lost by heartbeat is killed and restarted', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }], heartbeatMs: 1000, missedHeartbeats: 3 });
    expect(p.of('worker.spawn')).toEqual([{ type: 'worker.spawn', worker: 'l1', attempt: 0, restarts: 0 }]);
    p.join('l1', 'e1');
    // Silent past its 3-beat window at 3000 ms: found by the next check, a fifth of a beat later.
    p.advance(3000);
    expect(p.of('worker.kill')).toEqual([]);
    p.advance(200);
    expect(p.of('worker.kill')).toMatchObject([{ worker: 'l1', pid: 4242 }]);
    expect(p.ctx().workers.l1?.supervision).toBe('restarting');
    p.advance(1000);
    expect(p.of('worker.spawn')).toHaveLength(2);
  });

  it('the killed incarnation exiting after its replacement started is not a second loss', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }], heartbeatMs: 1000, missedHeartbeats: 3 });
    p.spawned('l1', 4242);
    p.join('l1', 'e1');
    p.advance(3200);
    expect(p.of('worker.kill')).toMatchObject([{ worker: 'l1', pid: 4242 }]);
    // The first restart is immediate: the replacement starts before the SIGKILL's exit is seen.
    p.advance(100);
    expect(p.of('worker.spawn')).toHaveLength(2);
    p.spawned('l1', 5000);
    p.exit('l1', null, 'SIGKILL', 4242);
    expect(p.ctx().workers.l1).toMatchObject({
      supervision: 'up',
      state: 'starting',
      pid: 5000,
      restarts: 1,
    });
    p.advance(1000);
    expect(p.of('worker.spawn')).toHaveLength(2);
    // The replacement's own exit is a loss.
    p.exit('l1', 1, null, 5000);
    expect(p.ctx().workers.l1).toMatchObject({ supervision: 'restarting', restarts: 2 });
  });

  it('a spawned worker that never says hello is killed after helloTimeoutMs', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }], helloTimeoutMs: 10_000 });
    p.advance(10_000);
    expect(p.of('worker.kill')).toEqual([]);
    p.advance(1000);
    expect(p.of('worker.kill')[0]?.reason).toContain('did not say hello within 10000 ms');
  });
});

describe('restart intensity (simulated clock)', () => {
  /** Kills l1, waits for the restart it schedules, and brings the new incarnation up. */
  function killAndRestart(p: ReturnType<typeof pool>, n: number) {
    const spawns = p.of('worker.spawn').length;
    p.exit('l1', 1);
    if (p.ctx().workers.l1?.supervision !== 'restarting') return false;
    for (let waited = 0; p.of('worker.spawn').length === spawns; waited += 100) {
      if (waited > MINUTE) throw new Error('no restart within a minute');
      p.advance(100, ['l2']);
    }
    p.join('l1', `e${n}`);
    return true;
  }

  it('six kills within 60 s: restarted five times, then given up; the pool is degraded and keeps serving', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }, { id: 'l2' }] });
    p.join('l1', 'e0');
    p.join('l2', 'f0');
    const start = p.clock.now();
    for (let n = 1; n <= 5; n++) expect(killAndRestart(p, n)).toBe(true);
    p.exit('l1', 1);
    expect(p.clock.now() - start).toBeLessThan(MINUTE);
    expect(p.ctx().workers.l1).toMatchObject({ supervision: 'given_up', state: 'failed', restarts: 5 });
    expect(p.ctx().health).toBe('degraded');
    expect(p.of('pool.health')).toEqual([{ type: 'pool.health', health: 'degraded', previous: 'ok' }]);
    expect(p.of('worker.given_up')).toMatchObject([
      { worker: 'l1', restarts: 5, maxRestarts: 5, periodMs: MINUTE },
    ]);
    p.advance(MINUTE, ['l2']);
    expect(p.of('worker.spawn').filter((s) => s.worker === 'l1')).toHaveLength(6);
    expect(p.dispatch()).toMatchObject({ ok: true, worker: 'l2' });
  });

  it('restart delays grow with each restart inside the window', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }] });
    p.join('l1', 'e0');
    const delays: number[] = [];
    for (let n = 1; n <= 5; n++) {
      const before = p.clock.now();
      killAndRestart(p, n);
      delays.push(p.clock.now() - before);
    }
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1] as number);
  });

  it('kills spread over ten minutes are never given up', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }] });
    p.join('l1', 'e0');
    const kills: number[] = [];
    for (let n = 1; n <= 6; n++) {
      if (n > 1) p.advance(2 * MINUTE - (p.clock.now() - (kills.at(-1) as number)), ['l1']);
      kills.push(p.clock.now());
      expect(killAndRestart(p, n)).toBe(true);
    }
    expect((kills.at(-1) as number) - (kills[0] as number)).toBe(10 * MINUTE);
    expect(p.ctx().workers.l1).toMatchObject({ supervision: 'up', restarts: 6 });
    expect(p.ctx().health).toBe('ok');
  });

  it('a transient worker that exits cleanly is not restarted', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }], policy: { restart: 'transient' } });
    p.join('l1', 'e0');
    p.exit('l1', 0);
    p.advance(MINUTE);
    expect(p.ctx().workers.l1).toMatchObject({ supervision: 'stopped', state: 'stopped' });
    expect(p.of('worker.spawn')).toHaveLength(1);
  });

  it('a worker killed mid-session reports its sessions as worker_lost', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }] });
    p.join('l1', 'e0');
    p.dispatch({ sessionId: 'x' });
    p.exit('l1', null, 'SIGKILL');
    expect(p.of('session.lost')).toMatchObject([
      {
        sessionId: 'x',
        error: {
          code: 'worker_lost',
          message: 'worker l1 was killed by SIGKILL; session x was running on it',
        },
      },
    ]);
  });
});

describe('drain (simulated clock)', () => {
  it('refuses new dispatches, drains every worker, and stops when all have stopped', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }] });
    p.join('l1', 'e1');
    p.join('r1', 'e2');
    p.send({ type: 'DRAIN', now: p.clock.now(), timeoutMs: 5000 });
    expect(p.ctx().health).toBe('draining');
    expect(p.of('worker.drain')).toEqual([
      { type: 'worker.drain', worker: 'l1', timeoutMs: 5000 },
      { type: 'worker.drain', worker: 'r1', timeoutMs: 5000 },
    ]);
    expect(p.dispatch()).toMatchObject({ ok: false, error: { code: 'draining' } });
    p.send({ type: 'WORKER_STATE', now: 0, worker: 'r1', epoch: 'e2', state: 'stopped' });
    expect(p.actor.getSnapshot().value).toBe('draining');
    p.exit('l1', 0);
    expect(p.actor.getSnapshot().value).toBe('stopped');
    expect(p.of('worker.spawn')).toHaveLength(1);
  });

  it('stops at the drain deadline, killing local workers that hang', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }], drainGraceMs: 1000 });
    p.join('l1', 'e1');
    p.dispatch({ sessionId: 'stuck' });
    p.send({ type: 'DRAIN', now: p.clock.now(), timeoutMs: 2000 });
    p.advance(2999);
    expect(p.actor.getSnapshot().value).toBe('draining');
    p.advance(1);
    expect(p.actor.getSnapshot().value).toBe('stopped');
    expect(p.of('worker.kill')).toMatchObject([{ worker: 'l1' }]);
    expect(p.of('session.lost')).toMatchObject([{ sessionId: 'stuck' }]);
  });
});
