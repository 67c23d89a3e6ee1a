import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Job, JobStatus, JobType, WorkerStatus } from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MessageOf, subjects } from '../../src/protocol/index.ts';
import type { SessionUpdate } from '../../src/runtime/supervisor/service.ts';
import {
  agentRoomToken,
  closedPortUrl,
  type LiveKitServerDouble,
  roomJob,
  type SignalRequest,
  startLiveKitServerDouble,
  startSignalSink,
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
  let sink: { url: string; requests: SignalRequest[]; stop(): Promise<void> };
  let t: TestPool;
  const updates: SessionUpdate[] = [];
  const ended: MessageOf<'session.ended'>[] = [];

  beforeAll(async () => {
    lk = await startLiveKitServerDouble();
    sink = await startSignalSink();
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
    await sink?.stop();
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
  /** The first updateWorker sent after `from` earlier ones that matches. */
  const workerUpdateAfter = (from: number, match: (load: number, status?: WorkerStatus) => boolean) =>
    waitFor('a matching updateWorker', () =>
      lk
        .all('updateWorker')
        .slice(from)
        .find((u) => match(u.load, u.status)),
    );
  /** Offers, assigns with the job's own token, and waits for the worker to be joining the room. */
  const assignHanging = async (room: string) => {
    const job = roomJob(room);
    expect((await lk.offer(job)).available).toBe(true);
    const token = await agentRoomToken(lk, job);
    lk.assign(job, token, sink.url);
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

  it('accepts a job that routes to a registered agent and declines one that names an unknown agent', async () => {
    await lk.next('updateWorker', (u) => u.status === WorkerStatus.WS_AVAILABLE);
    const byPrefix = roomJob('sales-42');
    const yes = await lk.offer(byPrefix);
    expect(yes).toMatchObject({
      available: true,
      participantIdentity: `agent-${byPrefix.id}`,
      participantName: 'sales',
    });
    const byMetadata = roomJob('lobby', { metadata: JSON.stringify({ agent: 'support' }) });
    expect(await lk.offer(byMetadata)).toMatchObject({ available: true, participantName: 'support' });

    const unknown = roomJob('lobby', { metadata: JSON.stringify({ agent: 'nobody' }) });
    expect((await lk.offer(unknown)).available).toBe(false);
    const declined = t.lines.find((l) => l.msg === 'LiveKit job declined' && l.job === unknown.id);
    expect(String(declined?.reason)).toMatch(/unknown_agent: Unknown agent 'nobody'/);
  });

  it("an assignment becomes a session that joins the room on a worker process with the job's url and token unchanged", async () => {
    const { job, token, session } = await assignHanging('support-1001');
    // The worker process dialed the assignment's url and presented the job's token (rtc-node's join).
    const join = await waitFor('the room join at the assigned url', () =>
      sink.requests.find((r) => r.authorization === `Bearer ${token}`),
    );
    expect(join.path).toMatch(/^\/rtc/);
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

  it('a termination cancels the session and updateJob reports the job failed as terminated', async () => {
    const { job, session } = await assignHanging('support-1002');
    lk.terminate(job.id);
    await reached(session, 'cancelled');
    const update = await lk.next('updateJob', (u) => u.jobId === job.id);
    expect(update.status).toBe(JobStatus.JS_FAILED);
    expect(update.error).toMatch(/terminated by LiveKit/);
  });

  it('updateWorker load rises with sessions and WS_FULL appears at the threshold', async () => {
    const from = lk.all('updateWorker').length;
    await workerUpdateAfter(from, (load, status) => load === 0 && status === WorkerStatus.WS_AVAILABLE);
    const { job, session } = await assignHanging('sales-2001');
    const full = await workerUpdateAfter(from, (load) => load > 0);
    expect(full.load).toBe(0.5); // 1 session of capacity 2
    expect(full.status).toBe(WorkerStatus.WS_FULL); // threshold 0.5
    expect(full.jobCount).toBe(1);

    const back = lk.all('updateWorker').length;
    lk.terminate(job.id);
    await reached(session, 'cancelled');
    const freed = await workerUpdateAfter(back, (load) => load === 0);
    expect(freed.status).toBe(WorkerStatus.WS_AVAILABLE);
  });

  it('when the server restarts, the dispatcher re-registers, running sessions are untouched and the pool keeps serving', async () => {
    const running = await assignHanging('support-3001');
    const registrations = lk.all('register').length;
    await lk.restart();
    await waitFor('a new registration', () => lk.all('register').length > registrations);
    expect(updates.filter((u) => u.session === running.session).map((u) => u.state)).not.toContain(
      'cancelled',
    );

    const after = await assignHanging('sales-3002');
    expect(after.session).not.toBe(running.session);
    for (const { job, session } of [running, after]) {
      lk.terminate(job.id); // over the new connection
      await reached(session, 'cancelled');
    }
  });

  it('a room join to an unreachable URL fails at connect after the configured retries; LiveKit gets the failed job with the error', async () => {
    const job = roomJob('support-4004');
    expect((await lk.offer(job)).available).toBe(true);
    lk.assign(job, await agentRoomToken(lk, job), await closedPortUrl());
    const { session } = await sessionFor(job);
    const failed = await reached(session, 'failed');
    // `attempt 2`: the agent's connectAttempts; the text is rtc-node's own.
    expect(failed.error?.code).toBe('connect_failed');
    expect(failed.error?.message).toMatch(/^attempt 2: .*Connection refused/);
    const end = await waitFor('session.ended from the worker', () =>
      ended.find((e) => e.session === session),
    );
    expect(end.phase).toBe('connect');

    const update = await lk.next('updateJob', (u) => u.jobId === job.id);
    expect(update.status).toBe(JobStatus.JS_FAILED);
    expect(update.error).toMatch(/^connect_failed: attempt 2: .*Connection refused/);
  });

  it('an assignment without a url joins the room on the server the pool registered with', async () => {
    const job = roomJob('sales-5005');
    expect((await lk.offer(job)).available).toBe(true);
    const token = await agentRoomToken(lk, job);
    lk.assign(job, token); // as livekit-server sends it
    const { session } = await sessionFor(job);
    const join = await waitFor('the room join at the LiveKit URL', () =>
      lk.attempts.find((a) => a.authorization === `Bearer ${token}`),
    );
    expect(join.path).toMatch(/^\/rtc/);
    await reached(session, 'failed'); // the double has no rooms
  });
});
