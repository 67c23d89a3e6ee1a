import { describe, expect, it } from 'vitest';
import { pool } from './supervisor-support.ts';

const LOCAL = [
  { id: 'w1', capacity: 4 },
  { id: 'w2', capacity: 4 },
  { id: 's1', capacity: 4, spare: true },
];

describe('hot spare workers (simulated clock)', () => {
  it('a spare is spawned with the pool, shown as a spare, and takes no sessions while spare', () => {
    const p = pool({ localWorkers: LOCAL });
    expect(p.of('worker.spawn').map((e) => e.worker)).toEqual(['w1', 'w2', 's1']);
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.join('s1', 'es');
    expect(p.ctx().workers.s1).toMatchObject({ spare: true, state: 'ready' });
    const placed = Array.from({ length: 8 }, (_, i) => p.dispatch({ sessionId: `s${i}` }));
    expect(placed.every((r) => r.ok && r.worker !== 's1')).toBe(true);
    const refused = p.dispatch({ sessionId: 'one-too-many' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'no_capacity' } });
  });

  it('a lost worker: its sessions are reported lost, the ready spare takes its place at once, the lost one restarts as the new spare', () => {
    const p = pool({ localWorkers: LOCAL });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.join('s1', 'es');
    const a = p.dispatch({ sessionId: 'a' });
    expect(a).toMatchObject({ ok: true, worker: 'w1' });
    p.sessionState('a', 'w1', 'e1', 'active', 4);
    p.exit('w1', null, 'SIGKILL');
    expect(p.of('session.lost')).toMatchObject([
      { sessionId: 'a', worker: 'w1', error: { code: 'worker_lost' } },
    ]);
    expect(p.of('worker.promoted')).toMatchObject([{ worker: 's1', replaces: 'w1' }]);
    expect(p.ctx().workers.s1?.spare).toBeFalsy();
    expect(p.ctx().workers.w1).toMatchObject({ spare: true, supervision: 'restarting' });
    // The promoted spare serves at once: no wait for a restart.
    expect(p.dispatch({ sessionId: 'b' })).toMatchObject({ ok: true, worker: 's1' });
    // The lost worker's restart boots the new spare in the background.
    p.send({ type: 'RESPAWN', worker: 'w1', at: p.clock.now() + 500 });
    expect(p.of('worker.spawn').at(-1)).toMatchObject({ worker: 'w1', attempt: 1 });
    p.join('w1', 'e1b');
    expect(p.ctx().workers.w1).toMatchObject({ spare: true, state: 'ready', epoch: 'e1b' });
    for (let i = 0; i < 6; i++)
      expect(p.dispatch({ sessionId: `c${i}` })).not.toMatchObject({ worker: 'w1' });
  });

  it('a worker lost by missed heartbeats is replaced by the spare too', () => {
    const p = pool({ localWorkers: LOCAL, heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.join('s1', 'es');
    p.advance(5000, ['w2', 's1']);
    expect(p.of('worker.kill').map((e) => e.worker)).toEqual(['w1']);
    expect(p.of('worker.promoted')).toMatchObject([{ worker: 's1', replaces: 'w1' }]);
  });

  it('without a ready spare the lost worker restarts as itself; a spare ready later serves in its place', () => {
    const p = pool({ localWorkers: LOCAL });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    // s1 has not said hello: not ready, so it cannot take w1's place.
    p.exit('w1');
    expect(p.of('worker.promoted')).toEqual([]);
    expect(p.ctx().workers.w1?.spare).toBeFalsy();
    // Ready while w1 is still restarting: they swap roles.
    p.join('s1', 'es');
    expect(p.of('worker.promoted')).toMatchObject([{ worker: 's1', replaces: 'w1' }]);
    expect(p.ctx().workers.w1).toMatchObject({ spare: true, supervision: 'restarting' });
  });

  it('a lost spare restarts as a spare; at start, a spare ready before a serving worker serves', () => {
    const p = pool({ localWorkers: LOCAL });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.join('s1', 'es');
    p.exit('s1');
    expect(p.of('worker.promoted')).toEqual([]);
    expect(p.ctx().workers.s1).toMatchObject({ spare: true, supervision: 'restarting' });

    const q = pool({ localWorkers: LOCAL });
    q.join('s1', 'es');
    q.join('w2', 'e2');
    expect(q.of('worker.promoted')).toMatchObject([{ worker: 's1', replaces: 'w1' }]);
    expect(q.dispatch({ sessionId: 'a' })).toMatchObject({ ok: true });
    q.join('w1', 'e1');
    expect(q.ctx().workers.w1).toMatchObject({ spare: true, state: 'ready' });
  });

  it("the swap also happens on the spare's ready transition, before its next heartbeat", () => {
    const p = pool({ localWorkers: LOCAL });
    p.hello('s1', 'es');
    p.send({ type: 'WORKER_STATE', now: p.clock.now(), worker: 's1', epoch: 'es', state: 'ready' });
    expect(p.ctx().workers.s1?.spare).toBeFalsy();
    expect(p.ctx().workers.w1?.spare).toBe(true);
  });
});
