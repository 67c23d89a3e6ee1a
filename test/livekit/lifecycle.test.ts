import { fileURLToPath } from 'node:url';
import { JobStatus, WorkerStatus } from '@livekit/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SessionFailure, subjects } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import type { SessionUpdate } from '../../src/runtime/supervisor/service.ts';
import {
  connectScriptedWorker,
  type JobOutcome,
  type LiveKitServerDouble,
  startLiveKitServerDouble,
} from '../support/livekit-server-double.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();
const AGENTS = fileURLToPath(new URL('./agents', import.meta.url)); // billing, sales, support
const CAPACITY = 2;

/**
 * A job's life as livekit-server runs it, through the real supervisor, a real worker process and
 * a real nats-server, against the double (test/support/livekit-server-double.ts), which enforces
 * the server's rules. The double runs no rooms: a worker's room join hangs in `connecting`.
 */
describe('LiveKit jobs as the server runs them: capacity, explicit dispatch, statuses, reconnects', () => {
  let lk: LiveKitServerDouble;
  let t: TestPool;
  const updates: SessionUpdate[] = [];

  beforeAll(async () => {
    lk = await startLiveKitServerDouble({ seed: 42 });
    t = await startTestPool(nats.url, {
      agentsDir: AGENTS,
      workers: 1,
      capacity: CAPACITY,
      livekit: {
        url: lk.url,
        apiKey: lk.apiKey,
        apiSecret: lk.apiSecret,
        loadThreshold: 1,
        updateIntervalMs: 150,
        reconnect: { initialMs: 100, maxMs: 400 },
      },
    });
    t.pool.service.onSession((e) => updates.push(e));
    await readyWorkers(t.client, 1);
    await waitFor('the pool available on LiveKit', () =>
      lk.all('updateWorker').find((u) => u.status === WorkerStatus.WS_AVAILABLE),
    );
  }, 60_000);

  // Each test starts with a free pool: whatever a test left running (it failed, or orphaned it) is cancelled.
  afterEach(async () => {
    const live = Object.values(t.pool.service.actor.getSnapshot().context.sessions).filter(
      (s) => !s.reported && !['closed', 'failed', 'cancelled'].includes(s.state),
    );
    await Promise.all(live.map((s) => t.pool.service.cancel(s.session, 'test cleanup')));
    await idle();
  });

  afterAll(async () => {
    await t?.stop();
    await lk?.stop();
  });

  const sessionOf = (jobId: string) =>
    waitFor(`a session for job ${jobId}`, () =>
      Object.values(t.pool.service.actor.getSnapshot().context.sessions).find((s) => s.jobId === jobId),
    );
  const reached = (session: string, state: string, timeoutMs = 20_000) =>
    waitFor(
      `session ${session} to reach ${state}`,
      (note) => {
        note(updates.filter((u) => u.session === session).map((u) => u.state));
        return updates.find((u) => u.session === session && u.state === state);
      },
      timeoutMs,
      10,
    );
  const assigned = (o: JobOutcome | undefined) => {
    if (!o?.ok || !('token' in o)) throw new Error(`job not assigned: ${JSON.stringify(o)}`);
    return o;
  };
  /** All slots free again (sessions of earlier tests ended). */
  const idle = () =>
    waitFor('a free pool, reported available on every registration', (note) => {
      const load = t.pool.service.load();
      const seen = poolConns().map((w) => ({
        name: w.agentName,
        status: WorkerStatus[w.status],
        load: w.load,
      }));
      note({ load, seen });
      return (
        load.active === 0 &&
        load.capacity === CAPACITY &&
        seen.length > 0 &&
        seen.every((w) => w.status === 'WS_AVAILABLE' && w.load === 0)
      );
    });
  /**
   * Everything the dispatcher sent before now has reached the double: WebSocket frames arrive in
   * order, so it suffices to see an updateWorker sent after now on every open connection.
   */
  /** The pool's registration under this name (not a scripted worker's). */
  const poolWorker = (agentName: string) =>
    lk.workers().find((w) => w.open && w.workerId && w.version !== 'scripted' && w.agentName === agentName);
  const poolConns = () => lk.workers().filter((w) => w.open && w.version !== 'scripted');
  const flushed = async () => {
    const marks = poolConns().map((w) => [w.conn, lk.all('updateWorker', w.conn).length] as const);
    await waitFor('an updateWorker on every connection of the pool', () =>
      marks.every(([conn, n]) => lk.all('updateWorker', conn).length > n),
    );
  };
  /**
   * No SFU can run here, so a worker's session cannot really reach `active`: the test speaks for
   * the worker on NATS (its subject, its id and epoch, the next seqs), as the worker would report.
   */
  const speakForWorker = async (session: string) => {
    const status = await t.client.status();
    const placed = status.sessions.find((x) => x.session === session);
    const worker = status.workers.find((w) => w.worker === placed?.worker);
    if (!placed || !worker?.epoch) throw new Error('the session or its worker is not in the status');
    const speaker = await PoolClient.connect({
      url: nats.url,
      pool: t.pool.pool,
      id: worker.worker,
      log: captureLog({}).log,
    });
    let seq = placed.seq;
    const say = (state: 'active' | 'closing', failure?: SessionFailure) => {
      seq += 1;
      speaker.bus.publish(
        subjects(t.pool.pool).events(worker.worker),
        speaker.bus.make('session.state', {
          session,
          worker: worker.worker,
          epoch: worker.epoch as string,
          state,
          seq,
          ...(failure ? { failure } : {}),
        }),
      );
    };
    return { say, close: () => speaker.close() };
  };
  const statuses = (jobId: string) =>
    lk.job(jobId)?.statuses.map((s) => `${JobStatus[s.status]}${s.error ? `(${s.error})` : ''} by ${s.by}`);

  it('registers one agent worker per agent name, plus one for automatic dispatch, each reporting the pool load', async () => {
    await waitFor('four registrations', () =>
      ['', 'billing', 'sales', 'support'].every((n) => lk.worker(n)?.workerId),
    );
    expect(
      lk
        .workers()
        .filter((w) => w.open)
        .map((w) => w.agentName)
        .sort(),
    ).toEqual(['', 'billing', 'sales', 'support']);
  });

  it('takes an explicit dispatch to each of its three agents', async () => {
    await idle();
    const jobs: { agent: string; jobId: string; session: string }[] = [];
    for (const agent of ['billing', 'sales']) {
      const [o] = await lk.dispatch({ room: `lobby-${agent}`, agentName: agent });
      const { job, workerId } = assigned(o);
      expect(workerId).toBe(lk.worker(agent)?.workerId);
      const s = await sessionOf(job.id);
      expect(s.agent).toBe(agent);
      jobs.push({ agent, jobId: job.id, session: s.session });
    }
    // The pool is full (2 of 2): the third agent's dispatch finds the pool reported full, or is declined.
    const [full] = await lk.dispatch({ room: 'lobby-support', agentName: 'support' });
    expect(full?.ok).toBe(false);
    for (const j of jobs) {
      expect(lk.terminate(j.jobId)).toBe(true);
      await reached(j.session, 'cancelled');
    }
    await idle();
    await waitFor(
      'support reported available',
      () => lk.worker('support')?.status === WorkerStatus.WS_AVAILABLE && lk.worker('support')?.load === 0,
    );
    const [o] = await lk.dispatch({ room: 'lobby-support', agentName: 'support' });
    const { job } = assigned(o);
    const s = await sessionOf(job.id);
    expect(s.agent).toBe('support');
    lk.terminate(job.id);
    await reached(s.session, 'cancelled');
  });

  it('a burst of N+k offers at capacity N: N accepted, k declined and moved on by the server to the next worker', async () => {
    await idle();
    const other = await connectScriptedWorker(lk, {}); // a second automatic worker
    other.update(0.999); // the server will try the idle pool first (weight 1 against 0.001)
    await waitFor('the other worker loaded', () => lk.workers().some((w) => w.open && w.load > 0.99));
    try {
      const K = 2;
      const outcomes = (
        await Promise.all(
          Array.from({ length: CAPACITY + K }, (_, i) => lk.dispatch({ room: `support-burst-${i}` })),
        )
      ).flat();
      const pool = poolWorker('')?.workerId;
      const ours = outcomes.filter((o) => o.ok && o.workerId === pool);
      const theirs = outcomes.filter((o) => o.ok && o.workerId !== pool);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(ours).toHaveLength(CAPACITY);
      expect(theirs).toHaveLength(K);
      for (const o of theirs) {
        const offers = lk.job(o.job.id)?.offers ?? [];
        if (offers[0]?.workerId === pool)
          expect(offers.map((x) => x.answer)).toEqual(['declined', 'accepted']);
      }
      // Every job the pool accepted got a session; none failed for want of a slot.
      const sessions = await Promise.all(ours.map((o) => sessionOf(o.job.id)));
      await flushed();
      for (const o of ours) expect(lk.job(o.job.id)?.ignored).toEqual([]);
      for (const o of ours) expect(statuses(o.job.id)).toEqual(['JS_RUNNING by server']);
      for (const [i, o] of ours.entries()) {
        lk.terminate(o.job.id);
        await reached(sessions[i]?.session ?? '', 'cancelled');
      }
    } finally {
      other.close();
    }
  });

  it('a decline moves the job to the next registered worker', async () => {
    await idle();
    const other = await connectScriptedWorker(lk, {});
    other.update(0.999);
    await waitFor('the other worker loaded', () => lk.workers().some((w) => w.open && w.load > 0.99));
    try {
      const [o] = await lk.dispatch({ room: 'lobby', metadata: JSON.stringify({ agent: 'nobody' }) });
      expect(o?.ok).toBe(true);
      const offers = lk.job(o?.job.id ?? '')?.offers;
      expect(offers?.[0]).toMatchObject({ workerId: poolWorker('')?.workerId, answer: 'declined' });
      expect(offers?.[1]?.answer).toBe('accepted');
    } finally {
      other.close();
    }
  });

  it('job statuses in the order the server records them: a terminated job is closed by the server, and nothing follows', async () => {
    await idle();
    const [o] = await lk.dispatch({ room: 'support-t1' });
    const { job } = assigned(o);
    const s = await sessionOf(job.id);
    await reached(s.session, 'connecting');
    expect(lk.terminate(job.id)).toBe(true);
    await reached(s.session, 'cancelled');
    await flushed();
    expect(statuses(job.id)).toEqual(['JS_RUNNING by server', 'JS_SUCCESS by server']);
    expect(lk.job(job.id)?.ignored).toEqual([]);
  });

  it('job statuses in the order the server records them: success goes out when the session starts closing, before it leaves the room', async () => {
    await idle();
    const [o] = await lk.dispatch({ room: 'support-t2' });
    const { job } = assigned(o);
    const s = await sessionOf(job.id);
    await reached(s.session, 'connecting');
    const speaker = await speakForWorker(s.session);
    try {
      speaker.say('active');
      await waitFor('JS_RUNNING from the worker', () =>
        lk.job(job.id)?.statuses.find((x) => x.by === 'worker'),
      );
      speaker.say('closing');
      // The session is closing and has not left the room (no `closed` yet): the job is already a success.
      await waitFor('the job ended', () => (lk.job(job.id)?.statuses.length ?? 0) >= 3);
      expect(statuses(job.id)).toEqual([
        'JS_RUNNING by server',
        'JS_RUNNING by worker',
        'JS_SUCCESS by worker',
      ]);
      // The agent then leaves the room: the server finds no running job, and its record stands.
      expect(lk.terminate(job.id, 'agent_left_room')).toBe(false);
      expect(statuses(job.id)?.at(-1)).toBe('JS_SUCCESS by worker');
    } finally {
      await t.pool.service.cancel(s.session, 'test over');
      await speaker.close();
    }
  });

  it('job statuses in the order the server records them: an active session that fails is JS_FAILED with its error when it starts closing', async () => {
    await idle();
    const [o] = await lk.dispatch({ room: 'support-t4' });
    const { job } = assigned(o);
    const s = await sessionOf(job.id);
    await reached(s.session, 'connecting');
    const speaker = await speakForWorker(s.session);
    try {
      speaker.say('active');
      await waitFor('JS_RUNNING from the worker', () =>
        lk.job(job.id)?.statuses.find((x) => x.by === 'worker'),
      );
      speaker.say('closing', { phase: 'active', code: 'session_error', message: 'llm down' });
      await waitFor('the job ended', () => (lk.job(job.id)?.statuses.length ?? 0) >= 3);
      expect(statuses(job.id)).toEqual([
        'JS_RUNNING by server',
        'JS_RUNNING by worker',
        'JS_FAILED(session_error: llm down) by worker',
      ]);
    } finally {
      await t.pool.service.cancel(s.session, 'test over');
      await speaker.close();
    }
  });

  it('job statuses in the order the server records them: a failed room join is JS_FAILED with the error', async () => {
    await idle();
    lk.roomJoins = 'reset';
    try {
      const [o] = await lk.dispatch({ room: 'sales-t3' });
      const { job } = assigned(o);
      const s = await sessionOf(job.id);
      const failed = await reached(s.session, 'failed');
      expect(failed.error?.code).toBe('connect_failed');
      await waitFor('the failure recorded', () => (lk.job(job.id)?.statuses.length ?? 0) >= 2);
      expect(statuses(job.id)?.[1]).toMatch(/^JS_FAILED\(connect_failed: attempt 2: .+\) by worker$/);
    } finally {
      lk.roomJoins = 'hang';
    }
  });

  it('a dispatch deletion closes the session within 3 s', async () => {
    await idle();
    const [o] = await lk.dispatch({ room: 'support-d1' });
    const { job } = assigned(o);
    // Deleted at once: the worker may not have the session yet (its start is in flight).
    const deletedAt = Date.now();
    expect(lk.terminate(job.id)).toBe(true);
    const placed = await waitFor('the job placed', () =>
      t.lines.find((l) => l.msg === 'LiveKit job assigned to a session' && l.job === job.id),
    );
    await reached(String(placed.session), 'cancelled', 10_000);
    // Wall clock on purpose: livekit-server gives the agent 3 s to leave after a dispatch deletion,
    // then removes it from the room (pkg/rtc/room.go waitForParticipantLeaving).
    expect(Date.now() - deletedAt).toBeLessThan(3000);
  });

  it('a reconnect orphans running jobs: the server forgot them, their sessions run on, their statuses are not sent', async () => {
    await idle();
    const [o] = await lk.dispatch({ room: 'support-r1' });
    const { job } = assigned(o);
    const s = await sessionOf(job.id);
    await reached(s.session, 'connecting');
    const names = poolConns().map((w) => w.agentName);
    const before = lk.workers().length;
    lk.dropConnections();
    await waitFor('every registration again', () =>
      names.every((n) =>
        lk.workers().some((w) => w.conn > before && w.open && w.agentName === n && w.workerId),
      ),
    );
    // The server forgot the job: a termination reaches nobody; the session runs on.
    expect(lk.terminate(job.id)).toBe(false);
    expect(updates.filter((u) => u.session === s.session).map((u) => u.state)).toEqual([
      'prewarming',
      'connecting',
    ]);
    // New jobs are served on the new connections.
    const [fresh] = await lk.dispatch({ room: 'sales-r2' });
    const next = await sessionOf(assigned(fresh).job.id);
    lk.terminate(assigned(fresh).job.id);
    await reached(next.session, 'cancelled');
    // The orphan ends (here: cancelled by an operator); nothing is sent for it.
    await t.pool.service.cancel(s.session, 'operator');
    await reached(s.session, 'cancelled');
    await flushed();
    expect(lk.all('updateJob').filter((u) => u.jobId === job.id)).toEqual([]);
  });
});
