import { describe, expect, it } from 'vitest';
import { findSession, knownSessions, sessionOfJob } from '../../src/actors/pool-views.ts';
import { findNotPlain } from '../../src/protocol/index.ts';
import { pool, summary } from './supervisor-support.ts';

describe('dispatch', () => {
  it('routes, places on the least-loaded worker, and asks the runtime to start the session', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    const first = p.dispatch({ job: { id: 'job-1', room: 'dental-42' } });
    expect(first).toEqual({
      type: 'dispatch.result',
      requestId: 'r1',
      ok: true,
      session: 's1',
      worker: 'w1',
      agent: 'dental',
      jobId: 'job-1',
      existing: false,
    });
    expect(p.of('session.place')).toEqual([
      {
        type: 'session.place',
        requestId: 'r1',
        sessionId: 's1',
        worker: 'w1',
        agent: 'dental',
        job: { id: 'job-1', room: 'dental-42' },
        // No transport asked for: local, one second of silence, output discarded.
        transport: {
          kind: 'local',
          input: { kind: 'silence', durationMs: 1000 },
          output: { kind: 'discard' },
        },
      },
    ]);
    const second = p.dispatch({ agent: 'restaurant' });
    expect(second).toMatchObject({ ok: true, worker: 'w2', agent: 'restaurant' });
    expect(p.ctx().workers.w1?.active).toBe(1);
    expect(p.ctx().sessions.s1).toMatchObject({
      state: 'prewarming',
      seq: 0,
      confirmed: false,
      room: 'dental-42',
    });
  });

  it('a repeated job id returns the same session, marked existing, and places nothing new', () => {
    const p = pool();
    p.join('w1', 'e1');
    const first = p.dispatch({ job: { id: 'job-7' } });
    const again = p.dispatch({ job: { id: 'job-7' } });
    expect(again).toMatchObject({
      ok: true,
      session: first.ok ? first.session : '',
      existing: true,
      jobId: 'job-7',
    });
    expect(p.of('session.place')).toHaveLength(1);
    expect(Object.keys(p.ctx().sessions)).toEqual(['s1']);
  });

  it('routing errors come back as dispatch errors', () => {
    const p = pool();
    p.join('w1', 'e1');
    expect(p.dispatch({ job: { metadata: JSON.stringify({ agent: 'ghost' }) } })).toMatchObject({
      ok: false,
      error: { code: 'unknown_agent', message: "Unknown agent 'ghost' requested via job metadata" },
    });
  });

  it('no ready worker with a free slot is no_capacity', () => {
    const p = pool();
    p.join('w1', 'e1', 1);
    expect(p.dispatch().ok).toBe(true);
    expect(p.dispatch()).toMatchObject({ ok: false, error: { code: 'no_capacity' } });
  });

  it('a worker still prewarming gets no sessions', () => {
    const p = pool();
    p.hello('w1', 'e1');
    p.heartbeat('w1', 'e1', { state: 'prewarming' });
    expect(p.dispatch()).toMatchObject({ ok: false, error: { code: 'no_capacity' } });
  });

  it('a session start that fails ends the session with its error', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.send({
      type: 'PLACE_FAILED',
      now: 0,
      sessionId: 's1',
      error: { code: 'timeout', message: 'session.start timed out' },
    });
    expect(p.of('session.ended')).toEqual([
      {
        type: 'session.ended',
        sessionId: 's1',
        worker: 'w1',
        agent: 'restaurant',
        jobId: 'r1',
        state: 'failed',
        seq: 0,
        error: { code: 'timeout', message: 'session.start timed out' },
      },
    ]);
    expect(p.ctx().workers.w1?.active).toBe(0);
  });
});

describe('session reports', () => {
  it('newer seq wins; stale and duplicate reports are ignored', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.sessionState('s1', 'w1', 'e1', 'connecting', 2);
    p.sessionState('s1', 'w1', 'e1', 'prewarming', 1);
    p.sessionState('s1', 'w1', 'e1', 'connecting', 2);
    expect(p.ctx().sessions.s1).toMatchObject({ state: 'connecting', seq: 2, confirmed: true });
    expect(p.ctx().rejected.stale_seq).toBe(2);
    p.sessionState('s1', 'w1', 'e1', 'active', 3);
    expect(p.ctx().sessions.s1?.state).toBe('active');
  });

  it('reports from a stale epoch are fenced', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.sessionState('s1', 'w1', 'old-epoch', 'active', 9);
    expect(p.ctx().sessions.s1?.state).toBe('prewarming');
    expect(p.ctx().rejected.stale_epoch).toBe(1);
    expect(p.of('worker.fenced')).toEqual([
      {
        type: 'worker.fenced',
        worker: 'w1',
        epoch: 'old-epoch',
        messageType: 'session.state',
        reason: 'stale_epoch',
      },
    ]);
  });

  it('heartbeats from an unknown worker are fenced until it says hello', () => {
    const p = pool();
    p.heartbeat('stranger', 'e1');
    expect(p.ctx().workers.stranger).toBeUndefined();
    expect(p.ctx().rejected.unknown_worker).toBe(1);
  });

  it('session.ended reports the outcome once', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    const ended = {
      type: 'SESSION_ENDED',
      now: 0,
      session: 's1',
      worker: 'w1',
      epoch: 'e1',
      seq: 6,
    } as const;
    p.send({
      ...ended,
      outcome: 'failed',
      phase: 'connect',
      error: { code: 'connect_failed', message: 'room gone' },
    });
    p.send({ ...ended, outcome: 'failed' });
    expect(p.of('session.ended')).toHaveLength(1);
    expect(findSession(p.ctx(), 's1')).toMatchObject({
      state: 'failed',
      reported: true,
      error: { code: 'connect_failed' },
    });
  });
});

describe('heartbeat reconciliation', () => {
  it('a newer seq in a heartbeat updates the view (a lost event heals)', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.heartbeat('w1', 'e1', { sessions: [summary('s1', 'active', 4)] });
    expect(p.ctx().sessions.s1).toMatchObject({ state: 'active', seq: 4, confirmed: true });
  });

  it('a just-placed session missing from a heartbeat is kept until the placement grace passes', () => {
    const p = pool({ placementGraceMs: 3000 });
    p.join('w1', 'e1');
    p.dispatch();
    p.advance(500);
    p.heartbeat('w1', 'e1', { sessions: [] });
    expect(p.ctx().sessions.s1?.reported).toBe(false);
    p.advance(3000);
    p.heartbeat('w1', 'e1', { sessions: [] });
    expect(findSession(p.ctx(), 's1')).toMatchObject({ state: 'failed', error: { code: 'unknown_session' } });
  });

  it('a confirmed session missing from a heartbeat has ended (its end event was lost)', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.sessionState('s1', 'w1', 'e1', 'active', 4);
    p.heartbeat('w1', 'e1', { sessions: [] });
    expect(p.of('session.ended')).toHaveLength(1);
    expect(p.ctx().workers.w1?.active).toBe(0);
  });

  it('a worker still running a session already reported ended is asked to cancel it', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch();
    p.send({ type: 'PLACE_FAILED', now: 0, sessionId: 's1', error: { code: 'timeout', message: 'late' } });
    p.heartbeat('w1', 'e1', { sessions: [summary('s1', 'active', 4)] });
    expect(p.of('session.cancel')).toMatchObject([{ sessionId: 's1', worker: 'w1' }]);
  });
});

describe('re-adoption', () => {
  it('a restarted supervisor re-creates the sessions a worker reports in its hello', () => {
    const p = pool();
    p.hello('w9', 'e9', {
      sessions: [summary('a1', 'active', 4), summary('a2', 'greeting', 3, 'restaurant')],
    });
    expect(p.ctx().workers.w9).toMatchObject({ supervision: 'remote', local: false, active: 2 });
    expect(p.ctx().sessions.a1).toMatchObject({
      worker: 'w9',
      agent: 'dental',
      state: 'active',
      seq: 4,
      jobId: 'job-a1',
    });
    expect(p.ctx().jobs['job-a2']).toBe('a2');
    p.heartbeat('w9', 'e9', { sessions: [summary('a1', 'active', 4), summary('a2', 'greeting', 3)] });
    const again = p.dispatch({ job: { id: 'job-a1' } });
    expect(again).toMatchObject({ ok: true, session: 'a1', worker: 'w9', existing: true });
  });

  it('a hello from a new epoch loses the sessions the old incarnation did not carry over', () => {
    const p = pool();
    p.join('w1', 'e1');
    p.dispatch({ sessionId: 'keep' });
    p.dispatch({ sessionId: 'gone' });
    p.hello('w1', 'e2', { sessions: [summary('keep', 'active', 4)] });
    expect(p.of('session.lost').map((l) => l.sessionId)).toEqual(['gone']);
    expect(p.ctx().sessions.keep).toMatchObject({ state: 'active', reported: false });
  });
});

describe('pool state', () => {
  it('the context is plain data that survives JSON', () => {
    const p = pool({ localWorkers: [{ id: 'local-1' }] });
    p.join('w1', 'e1');
    p.dispatch();
    p.sessionState('s1', 'w1', 'e1', 'active', 4);
    expect(findNotPlain(p.ctx())).toBeNull();
    expect(JSON.parse(JSON.stringify(p.ctx()))).toEqual(p.ctx());
  });

  it('ended sessions are kept up to endedLimit, then forgotten with their job ids', () => {
    const p = pool({ endedLimit: 2 });
    p.join('w1', 'e1', 10);
    for (let i = 0; i < 4; i++) {
      const r = p.dispatch({ job: { id: `job-${i}` } });
      if (!r.ok) throw new Error(r.error.message);
      p.send({
        type: 'PLACE_FAILED',
        now: 0,
        sessionId: r.session,
        error: { code: 'timeout', message: 't' },
      });
    }
    expect(p.ctx().ended.map((s) => s.session)).toEqual(['s3', 's4']);
    expect(knownSessions(p.ctx()).map((s) => s.session)).toEqual(['s3', 's4']);
    const jobs = ['job-0', 'job-1', 'job-2', 'job-3'].map((j) => sessionOfJob(p.ctx(), j)?.session);
    expect(jobs).toEqual([undefined, undefined, 's3', 's4']);
  });
});
