import { describe, expect, it } from 'vitest';
import { pool } from './supervisor-support.ts';

describe('a worker process that exits before starting a session it was given', () => {
  it('the session moves to another worker instead of failing: it never ran, so nothing runs twice', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }, { id: 'w2' }] });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    expect(p.dispatch({ sessionId: 'a' })).toMatchObject({ ok: true, worker: 'w1' });
    p.exit('w1', null, 'SIGKILL');
    expect(p.of('session.lost')).toEqual([]);
    expect(p.of('session.place').at(-1)).toMatchObject({
      sessionId: 'a',
      worker: 'w2',
      requestId: 'replace:a',
    });
    expect(p.ctx().sessions.a).toMatchObject({ worker: 'w2', state: 'prewarming' });
    expect(p.ctx().workers.w2?.active).toBe(1);
  });

  it('a session the dead worker had reported is lost, not moved', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }, { id: 'w2' }] });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.dispatch({ sessionId: 'a' });
    p.send({
      type: 'SESSION_STATE',
      now: p.clock.now(),
      session: 'a',
      worker: 'w1',
      epoch: 'e1',
      state: 'active',
      seq: 4,
    });
    p.exit('w1', null, 'SIGKILL');
    expect(p.of('session.lost')).toMatchObject([{ sessionId: 'a', error: { code: 'worker_lost' } }]);
    expect(p.of('session.place').filter((e) => e.requestId.startsWith('replace:'))).toEqual([]);
  });

  it('with no other free worker, it is lost as before', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }, { id: 'w2' }] });
    p.join('w1', 'e1');
    p.dispatch({ sessionId: 'a' });
    p.exit('w1', null, 'SIGKILL');
    expect(p.of('session.lost')).toMatchObject([{ sessionId: 'a' }]);
  });

  it('a worker lost only by silence (it may still be running the session) never has its sessions moved', () => {
    const p = pool({ heartbeatMs: 1000, missedHeartbeats: 3 });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.dispatch({ sessionId: 'a' });
    p.advance(5000, ['w2']);
    expect(p.of('session.lost')).toMatchObject([{ sessionId: 'a', worker: 'w1' }]);
  });
});
