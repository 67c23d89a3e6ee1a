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

describe('a start command that finds no responder on a local worker', () => {
  const noResponders = { code: 'no_responders' as const, message: 'no one is listening' };

  it('waits for the process exit, which moves the session: the no_responders reply can beat the exit event', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }, { id: 'w2' }] });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.dispatch({ sessionId: 'a' });
    p.send({ type: 'PLACE_FAILED', now: p.clock.now(), sessionId: 'a', worker: 'w1', error: noResponders });
    expect(p.ctx().sessions.a).toMatchObject({ worker: 'w1', state: 'prewarming' });
    p.exit('w1', null, 'SIGKILL');
    expect(p.ctx().sessions.a).toMatchObject({ worker: 'w2', state: 'prewarming' });
    expect(p.of('session.lost')).toEqual([]);
  });

  it('on a remote worker, or with any other error, the session fails at once', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }] });
    p.join('w1', 'e1');
    p.join('r1', 'e2');
    const placed = p.dispatch({ sessionId: 'a' });
    const remote = placed.ok && placed.worker === 'r1' ? 'r1' : 'w1';
    const error = remote === 'r1' ? noResponders : { code: 'timeout' as const, message: 'no answer' };
    p.send({ type: 'PLACE_FAILED', now: p.clock.now(), sessionId: 'a', worker: remote, error });
    expect(p.of('session.ended')).toMatchObject([{ sessionId: 'a', state: 'failed', error }]);
  });
});
