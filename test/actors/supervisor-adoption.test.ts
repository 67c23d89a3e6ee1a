import { describe, expect, it } from 'vitest';
import { drainReport, findSession, ledgerEntry, sessionOfJob } from '../../src/actors/pool-views.ts';
import { endedRecord, pool, summary } from './supervisor-support.ts';

describe('sessions that ended while no supervisor listened', () => {
  it('a new supervisor records the ends a hello reports, with their true outcome, and adopts the live sessions', () => {
    const p = pool();
    p.clock.set(60_000);
    p.hello('w9', 'e9', {
      sessions: [summary('live', 'active', 4)],
      ended: [
        endedRecord('done', 'success', 6, 50_000),
        endedRecord('broke', 'failed', 3, 51_000, {
          phase: 'connect',
          error: { code: 'connect_failed', message: 'room gone' },
        }),
      ],
    });
    const { sessions, ended, workers } = p.ctx();
    expect(findSession(p.ctx(), 'done')).toMatchObject({
      worker: 'w9',
      state: 'closed',
      seq: 6,
      reported: true,
    });
    expect(findSession(p.ctx(), 'broke')).toMatchObject({
      state: 'failed',
      reported: true,
      error: { code: 'connect_failed', message: 'room gone' },
    });
    expect(sessions.live).toMatchObject({ state: 'active', reported: false });
    expect(ended.map((s) => s.session)).toEqual(['done', 'broke']);
    expect(workers.w9?.active).toBe(1);
    // A repeated dispatch of a job that ended meanwhile gets that session, not a second run.
    expect(sessionOfJob(p.ctx(), 'job-done')?.session).toBe('done');
    expect(p.dispatch({ job: { id: 'job-done' } })).toMatchObject({
      ok: true,
      session: 'done',
      existing: true,
    });
    expect(ledgerEntry(p.ctx(), 'broke')?.end).toMatchObject({ state: 'failed', at: 51_000 });
    expect(p.of('session.ended').map((e) => [e.sessionId, e.state])).toEqual([
      ['done', 'closed'],
      ['broke', 'failed'],
    ]);
  });

  it("a heartbeat's ends end the sessions it knew as running with the outcome reported, once", () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch({ sessionId: 'a' });
    p.sessionState('a', 'w1', 'e1', 'active', 4);
    // Its session.ended was lost: the next heartbeat no longer lists it, and records its end.
    const ended = [endedRecord('a', 'cancelled', 5, p.clock.now())];
    p.heartbeat('w1', 'e1', { sessions: [], ended });
    p.heartbeat('w1', 'e1', { sessions: [], ended });
    expect(findSession(p.ctx(), 'a')).toMatchObject({ state: 'cancelled', seq: 5, reported: true });
    expect(findSession(p.ctx(), 'a')?.error).toBeUndefined();
    expect(p.of('session.ended')).toMatchObject([{ sessionId: 'a', state: 'cancelled', seq: 5 }]);
  });

  it('an end the heartbeat reports for a session nobody knew is recorded; one older than the full record is not', () => {
    const p = pool({ endedLimit: 2 });
    p.clock.set(10_000);
    p.join('w1', 'e1');
    p.heartbeat('w1', 'e1', { ended: [endedRecord('x', 'success', 5, 9_000)] });
    expect(findSession(p.ctx(), 'x')).toMatchObject({ state: 'closed', reported: true });
    p.heartbeat('w1', 'e1', { ended: [endedRecord('y', 'success', 5, 9_500)] });
    // The record is full (x, y): an end older than its oldest entry would only push a newer one out.
    p.heartbeat('w1', 'e1', { ended: [endedRecord('old', 'failed', 5, 1_000)] });
    expect(p.ctx().ended.map((s) => s.session)).toEqual(['x', 'y']);
    // An unknown worker's record is never taken in.
    p.heartbeat('stranger', 'e5', { ended: [endedRecord('z', 'success', 5, 9_900)] });
    expect(findSession(p.ctx(), 'z')).toBeUndefined();
  });

  it("adopted sessions count in the drain's verdict: cut short by the drain → counted; ended before it → not", () => {
    const p = pool();
    p.clock.set(60_000);
    p.hello('w9', 'e9', {
      sessions: [summary('long', 'active', 4), summary('short', 'active', 4)],
      ended: [endedRecord('before', 'failed', 3, 50_000)],
    });
    p.heartbeat('w9', 'e9', { sessions: [summary('long', 'active', 4), summary('short', 'active', 4)] });
    p.send({ type: 'DRAIN', now: p.clock.now(), timeoutMs: 1000 });
    const ended = { type: 'SESSION_ENDED', now: p.clock.now(), worker: 'w9', epoch: 'e9', seq: 6 } as const;
    p.send({ ...ended, session: 'short', outcome: 'success' });
    p.send({ ...ended, session: 'long', outcome: 'cancelled' });
    expect(drainReport(p.ctx())).toEqual({ cut: 1, sessions: ['long'] });
  });
});

describe('workers the supervisor has not heard hello from', () => {
  it('a heartbeat from an unknown worker makes the supervisor announce itself again (at most once per beat)', () => {
    const p = pool();
    expect(p.of('supervisor.announce')).toEqual([{ type: 'supervisor.announce', reason: 'started' }]);
    p.advance(1000);
    p.heartbeat('stranger', 'e1');
    p.heartbeat('stranger', 'e1');
    expect(p.of('supervisor.announce')).toHaveLength(2);
    p.advance(1000);
    p.heartbeat('stranger', 'e1');
    expect(p.of('supervisor.announce')).toHaveLength(3);
    p.hello('stranger', 'e1');
    p.heartbeat('stranger', 'e1');
    expect(p.of('supervisor.announce')).toHaveLength(3);
    expect(p.ctx().workers.stranger?.state).toBe('ready');
  });

  it('the same incarnation saying hello again stays registered as it was', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.hello('w1', 'e1');
    expect(p.ctx().workers.w1?.state).toBe('ready');
    expect(p.dispatch()).toMatchObject({ ok: true, worker: 'w1' });
  });
});

describe('fencing', () => {
  it('a lost incarnation that speaks again is told to shut down once; a forged epoch never is', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.advance(5000); // silent: lost
    expect(p.ctx().workers.w1).toMatchObject({ epoch: null, lostEpochs: ['e1'] });
    p.heartbeat('w1', 'e1');
    p.heartbeat('w1', 'e1');
    p.heartbeat('w1', 'forged');
    expect(p.of('worker.shutdown')).toEqual([
      {
        type: 'worker.shutdown',
        worker: 'w1',
        epoch: 'e1',
        reason: 'fenced: stale_epoch; this incarnation was declared lost',
      },
    ]);
    expect(p.ctx().rejected.stale_epoch).toBe(3);
  });

  it('a failed start of a session that has since moved to another worker is ignored', () => {
    const p = pool({ localWorkers: [{ id: 'w1' }, { id: 'w2' }] });
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    p.dispatch({ sessionId: 'a', job: { id: 'job-a', metadata: '{"agent":"dental"}' } });
    p.exit('w1', null, 'SIGKILL');
    const moved = p.of('session.place').at(-1);
    expect(moved).toMatchObject({
      worker: 'w2',
      moved: true,
      job: { id: 'job-a', metadata: '{"agent":"dental"}' },
    });
    p.send({
      type: 'PLACE_FAILED',
      now: p.clock.now(),
      sessionId: 'a',
      worker: 'w1',
      error: { code: 'no_responders', message: 'w1 is gone' },
    });
    expect(p.ctx().sessions.a).toMatchObject({ worker: 'w2', reported: false });
    p.sessionState('a', 'w2', 'e2', 'connecting', 2);
    // Confirmed by its worker: it will never move again, so how to start it is dropped.
    expect(p.ctx().sessions.a?.start).toBeUndefined();
  });

  it('status facts live in the context: a worker exit sets its error, its next hello clears it', () => {
    const p = pool({ localWorkers: [{ id: 'l1' }] });
    p.join('l1', 'e1');
    p.send({ type: 'WORKER_EXITED', now: p.clock.now(), worker: 'l1', pid: 4242, code: 3, signal: null });
    expect(p.ctx().workers.l1?.error).toEqual({
      code: 'worker_lost',
      message: 'worker process 4242 exited with code 3',
    });
    p.advance(5000);
    p.hello('l1', 'e2');
    expect(p.ctx().workers.l1?.error).toBeUndefined();
    p.send({ type: 'REJECTED', reason: 'from_mismatch' });
    expect(p.ctx().rejected.from_mismatch).toBe(1);
  });
});
