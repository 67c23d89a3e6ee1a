import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Job, JobStatus, JobType, WorkerStatus } from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MessageOf, subjects } from '../../src/protocol/index.ts';
import type { SessionUpdate } from '../../src/runtime/supervisor/service.ts';
import {
  type JobOutcome,
  type LiveKitServerDouble,
  startLiveKitServerDouble,
} from '../support/livekit-server-double.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();
const AGENTS = fileURLToPath(new URL('./agents', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('the supervisor as a LiveKit agent worker, driven by a protocol-level double of the agent endpoint', () => {
  let lk: LiveKitServerDouble;
  let t: TestPool;
  const updates: SessionUpdate[] = [];
  const ended: MessageOf<'session.ended'>[] = [];

  beforeAll(async () => {
    lk = await startLiveKitServerDouble();
    t = await startTestPool(nats.url, {
      agentsDir: AGENTS,
      workers: 1,
      capacity: 2,
      livekit: {
        url: lk.url,
        apiKey: lk.apiKey,
        apiSecret: lk.apiSecret,
        agentName: 'openrtc-test',
        namespace: 'ns-test',
        deployment: 'blue',
        loadThreshold: 0.5,
        updateIntervalMs: 150,
        reconnect: { initialMs: 100, maxMs: 400 },
      },
    });
    t.pool.service.onSession((e) => updates.push(e));
    t.client.bus.subscribe(subjects(t.pool.pool).eventsAll, (msg) => {
      if (msg.type === 'session.ended') ended.push(msg);
    });
    await readyWorkers(t.client, 1);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await lk?.stop();
  });

  /** The session the supervisor placed for a LiveKit job. */
  const sessionFor = (job: Job) =>
    waitFor(`a session for job ${job.id}`, () =>
      Object.values(t.pool.service.actor.getSnapshot().context.sessions).find((s) => s.jobId === job.id),
    );
  const reached = (session: string, state: string, timeoutMs = 20_000) =>
    waitFor(
      `session ${session} to reach ${state}`,
      () => updates.find((u) => u.session === session && u.state === state),
      timeoutMs,
    );
  const assigned = (o: JobOutcome | undefined) => {
    if (!o?.ok || !('token' in o)) throw new Error(`job not assigned: ${JSON.stringify(o)}`);
    return o;
  };
  /** Dispatches to the pool's name; waits for the worker to be joining the room (the double never answers). */
  const assignHanging = async (room: string) => {
    // The pool is full at one session (threshold 0.5) until the previous test's session is gone
    // and an updateWorker says so; the server offers nothing to a full worker.
    await waitFor('the pool available', (note) => {
      note(lk.worker('openrtc-test')?.status);
      return lk.worker('openrtc-test')?.status === WorkerStatus.WS_AVAILABLE;
    });
    const [o] = await lk.dispatch({ room, agentName: 'openrtc-test', deployment: 'blue' });
    const { job, token } = assigned(o);
    const { session } = await sessionFor(job);
    await reached(session, 'connecting');
    return { job, token, session };
  };

  it('registers over <url>/agent with an agent-grant JWT: JT_ROOM, the agent name, version, namespace, permissions', async () => {
    const reg = await lk.next('register');
    expect(reg.type).toBe(JobType.JT_ROOM);
    expect(reg.agentName).toBe('openrtc-test');
    expect(reg.version).toBe(VERSION);
    expect(reg.namespace).toBe('ns-test');
    expect(reg.allowedPermissions).toMatchObject({
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
      agent: true,
    });
    const attempt = lk.attempts.find((a) => a.accepted);
    expect(attempt?.path).toBe('/agent');
    const jwt = attempt?.authorization?.replace(/^Bearer /, '') ?? '';
    const claims = await new TokenVerifier(lk.apiKey, lk.apiSecret).verify(jwt);
    expect(claims.video?.agent).toBe(true);
  });

  /** The pool-wide registration (under `agentName`), as the double sees it. */
  const poolConn = () => lk.worker('openrtc-test')?.conn ?? -1;
  /** An updateWorker on the pool-wide connection after now: everything sent before it has arrived. */
  const flushed = async () => {
    const n = lk.all('updateWorker', poolConn()).length;
    await waitFor('a later updateWorker', () => lk.all('updateWorker', poolConn()).length > n);
  };

  it('registers each agent under its own name too, all with the namespace', async () => {
    await waitFor('three registrations', () =>
      ['openrtc-test', 'sales', 'support'].every((n) => lk.worker(n)),
    );
    for (const n of ['openrtc-test', 'sales', 'support']) expect(lk.worker(n)?.namespace).toBe('ns-test');
    expect(lk.worker('')).toBeUndefined(); // --agent-name takes the place of automatic dispatch
  });

  it('accepts a job that routes to a registered agent and declines one that names an unknown agent', async () => {
    await lk.next('updateWorker', (u) => u.status === WorkerStatus.WS_AVAILABLE);
    const [byPrefix] = await lk.dispatch({ room: 'sales-42', agentName: 'openrtc-test', deployment: 'blue' });
    const yes = lk.all('availability').find((a) => a.jobId === byPrefix?.job.id);
    expect(yes).toMatchObject({
      available: true,
      participantIdentity: `agent-${byPrefix?.job.id}`,
      participantName: 'sales',
    });
    // The pool reports WS_FULL at one session (threshold 0.5): end it before the next offer.
    const end = async (o: JobOutcome | undefined) => {
      const { session } = await sessionFor(assigned(o).job);
      lk.terminate(o?.job.id ?? '');
      await reached(session, 'cancelled');
      await waitFor(
        'the pool available again',
        () => lk.worker('openrtc-test')?.status === WorkerStatus.WS_AVAILABLE,
      );
    };
    await end(byPrefix);
    const [byMetadata] = await lk.dispatch({
      room: 'lobby',
      agentName: 'openrtc-test',
      deployment: 'blue',
      metadata: JSON.stringify({ agent: 'support' }),
    });
    expect(lk.all('availability').find((a) => a.jobId === byMetadata?.job.id)).toMatchObject({
      available: true,
      participantName: 'support',
    });
    await end(byMetadata);

    const [unknown] = await lk.dispatch({
      room: 'lobby',
      agentName: 'openrtc-test',
      deployment: 'blue',
      metadata: JSON.stringify({ agent: 'nobody' }),
    });
    expect(unknown).toMatchObject({ ok: false, reason: 'declined_by_all' });
    const declined = t.lines.find((l) => l.msg === 'LiveKit job declined' && l.job === unknown?.job.id);
    expect(String(declined?.reason)).toMatch(/unknown_agent: Unknown agent 'nobody'/);
  });

  it('an assignment becomes a session that joins the room at the LiveKit URL, on a worker process, with the token the server minted', async () => {
    const { job, token, session } = await assignHanging('support-1001');
    // The assignment has no url ("this server"): the worker process dialed the URL the pool
    // registered with and presented the job's token (rtc-node's join).
    const join = await waitFor('the room join', () =>
      lk.joins.find((r) => r.authorization === `Bearer ${token}`),
    );
    expect(join.path).toMatch(/^\/rtc/);
    expect(join).toMatchObject({ identity: `agent-${job.id}`, room: 'support-1001' });
    const status = await t.client.status();
    const placed = status.sessions.find((s) => s.session === session);
    expect(placed).toMatchObject({
      jobId: job.id,
      agent: 'support',
      room: 'support-1001',
      state: 'connecting',
    });
    const worker = status.workers.find((w) => w.worker === placed?.worker);
    expect(worker?.pid).not.toBe(process.pid);

    lk.terminate(job.id);
    await reached(session, 'cancelled');
  });

  it('a termination cancels the session; the server closed the job itself, so no updateJob follows', async () => {
    const { job, session } = await assignHanging('support-1002');
    expect(lk.terminate(job.id)).toBe(true);
    await reached(session, 'cancelled');
    await flushed();
    expect(lk.all('updateJob').filter((u) => u.jobId === job.id)).toEqual([]);
    expect(lk.job(job.id)?.statuses.map((x) => JobStatus[x.status])).toEqual(['JS_RUNNING', 'JS_SUCCESS']);
  });

  it('updateWorker load rises with sessions and WS_FULL appears at the threshold', async () => {
    const conn = poolConn();
    const updateAfter = (from: number, match: (load: number, status?: WorkerStatus) => boolean) =>
      waitFor('a matching updateWorker', () =>
        lk
          .all('updateWorker', conn)
          .slice(from)
          .find((u) => match(u.load, u.status)),
      );
    const from = lk.all('updateWorker', conn).length;
    await updateAfter(from, (load, status) => load === 0 && status === WorkerStatus.WS_AVAILABLE);
    const { job, session } = await assignHanging('sales-2001');
    const full = await updateAfter(from, (load) => load > 0);
    expect(full.load).toBe(0.5); // 1 session of capacity 2
    expect(full.status).toBe(WorkerStatus.WS_FULL); // threshold 0.5
    // Every registration reports the same pool load.
    await waitFor(
      'the sales registration full too',
      () => lk.worker('sales')?.status === WorkerStatus.WS_FULL,
    );

    const back = lk.all('updateWorker', conn).length;
    lk.terminate(job.id);
    await reached(session, 'cancelled');
    const freed = await updateAfter(back, (load) => load === 0);
    expect(freed.status).toBe(WorkerStatus.WS_AVAILABLE);
  });

  it('when the server restarts, the dispatcher registers again; running sessions are untouched and the pool keeps serving', async () => {
    const running = await assignHanging('support-3001');
    const before = lk.workers().length;
    await lk.restart();
    await waitFor('every registration again', () =>
      ['openrtc-test', 'sales', 'support'].every((n) =>
        lk.workers().some((w) => w.conn > before && w.open && w.workerId && w.agentName === n),
      ),
    );
    expect(updates.filter((u) => u.session === running.session).map((u) => u.state)).not.toContain(
      'cancelled',
    );
    // The restarted server does not know the job any more: no termination can reach it.
    expect(lk.terminate(running.job.id)).toBe(false);

    // The orphan holds its slot until it ends (its room would end it; here the test does).
    await t.pool.service.cancel(running.session, 'test over');
    await reached(running.session, 'cancelled');
    await waitFor(
      'the pool available again',
      () => lk.worker('openrtc-test')?.status === WorkerStatus.WS_AVAILABLE,
    );
    const after = await assignHanging('sales-3002');
    expect(after.session).not.toBe(running.session);
    lk.terminate(after.job.id);
    await reached(after.session, 'cancelled');
    await waitFor(
      'the pool available again',
      () => lk.worker('openrtc-test')?.status === WorkerStatus.WS_AVAILABLE,
    );
    // Five waits in a row (a server restart, re-registrations, two sessions): a busy machine can
    // need more than the default minute.
  }, 120_000);

  it('a room join that fails fails at connect after the configured retries; LiveKit gets the failed job with the error', async () => {
    lk.roomJoins = 'reset';
    try {
      const [o] = await lk.dispatch({ room: 'support-4004', agentName: 'openrtc-test', deployment: 'blue' });
      const { job } = assigned(o);
      const { session } = await sessionFor(job);
      const failed = await reached(session, 'failed');
      // `attempt 2`: the agent's connectAttempts; the text is rtc-node's own.
      expect(failed.error?.code).toBe('connect_failed');
      expect(failed.error?.message).toMatch(/^attempt 2: /);
      const end = await waitFor('session.ended from the worker', () =>
        ended.find((e) => e.session === session),
      );
      expect(end.phase).toBe('connect');

      const update = await lk.next('updateJob', (u) => u.jobId === job.id);
      expect(update.status).toBe(JobStatus.JS_FAILED);
      expect(update.error).toMatch(/^connect_failed: attempt 2: /);
    } finally {
      lk.roomJoins = 'hang';
    }
  });
});
