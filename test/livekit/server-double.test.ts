import {
  JobStatus,
  JobType,
  RegisterWorkerRequest,
  UpdateJobStatus,
  WorkerPing,
  WorkerStatus,
} from '@livekit/protocol';
import { TokenVerifier } from 'livekit-server-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  AGENT_NAME_ATTRIBUTE,
  agentTopic,
  connectScriptedWorker,
  type LiveKitServerDouble,
  startLiveKitServerDouble,
} from '../support/livekit-server-double.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The double's own rules, checked with scripted agent workers (raw WebSockets speaking
 * @livekit/protocol), so the dispatcher tests can trust it. Each rule is livekit-server's; the
 * double's comments name the file.
 */
describe('the LiveKit server double enforces the agent service rules', () => {
  let lk: LiveKitServerDouble;
  beforeEach(async () => {
    // A short register deadline, so the test of it is quick; the default is the server's 10 s.
    lk = await startLiveKitServerDouble({ seed: 7, registerTimeoutMs: 300, assignJobTimeoutMs: 300 });
  });
  afterEach(async () => {
    await lk.stop();
  });

  const closedBecause = (conn: number) =>
    waitFor(`connection ${conn} closed by the server`, () =>
      lk.workers().find((w) => w.conn === conn && !w.open),
    );

  it('register first: any other message before it closes the socket', async () => {
    const w = await connectScriptedWorker(lk, { register: false });
    w.update(0);
    expect((await closedBecause(1)).closedBecause).toMatch(/before register: updateWorker/);
  });

  it('register within the deadline, once per socket', async () => {
    await connectScriptedWorker(lk, { register: false });
    expect((await closedBecause(1)).closedBecause).toMatch(/no register within 300 ms/);
    const twice = await connectScriptedWorker(lk, { agentName: 'a' });
    twice.send({
      case: 'register',
      value: new RegisterWorkerRequest({ type: JobType.JT_ROOM, agentName: 'a' }),
    });
    expect((await closedBecause(2)).closedBecause).toMatch(/already registered/);
  });

  it('a WorkerPing gets a pong carrying its timestamp', async () => {
    const w = await connectScriptedWorker(lk);
    w.send({ case: 'ping', value: new WorkerPing({ timestamp: 1234n }) });
    const pong = await waitFor('a pong', () => w.of('pong')[0]);
    expect(pong.lastTimestamp).toBe(1234n);
  });

  it('availability comes before assignment; the token is minted from the answer', async () => {
    const w = await connectScriptedWorker(lk, { agentName: 'front' });
    const [outcome] = await lk.dispatch({ room: 'r1', agentName: 'front' });
    expect(outcome?.ok).toBe(true);
    await waitFor('the assignment', () => w.of('assignment')[0]);
    const kinds = w.messages.map((m) => m.message.case);
    expect(kinds.indexOf('availability')).toBeLessThan(kinds.indexOf('assignment'));
    const assignment = w.of('assignment')[0];
    expect(assignment?.url ?? '').toBe(''); // no url: "this server"
    const claims = await new TokenVerifier(lk.apiKey, lk.apiSecret).verify(assignment?.token ?? '');
    expect(claims.sub).toBe(`scripted-${assignment?.job?.id}`);
    expect(claims.name).toBe('scripted');
    expect(claims.kind).toBe('agent');
    expect(claims.attributes?.[AGENT_NAME_ATTRIBUTE]).toBe('front');
    expect(claims.video).toMatchObject({ roomJoin: true, agent: true, room: 'r1' });
    expect(Number(claims.exp) - Number(claims.nbf ?? claims.iat ?? 0)).toBeGreaterThanOrEqual(3599);
  });

  it('an unanswered offer drops the job; a decline moves it to the next worker', async () => {
    const silent = await connectScriptedWorker(lk, { agentName: 'x' });
    silent.ws.removeAllListeners('message');
    const [dropped] = await lk.dispatch({ room: 'r2', agentName: 'x' });
    expect(dropped).toMatchObject({ ok: false, reason: 'timeout' });
    silent.close();

    const no = await connectScriptedWorker(lk, { agentName: 'y', answer: () => false });
    const yes = await connectScriptedWorker(lk, { agentName: 'y' });
    // Make the decliner the likelier first choice, so the test sees the move.
    yes.update(0.9);
    await waitFor('the load update', () => lk.worker('y') && lk.workers().some((w) => w.load > 0.8));
    const outcomes = await Promise.all(
      [1, 2, 3].map((i) => lk.dispatch({ room: `r3-${i}`, agentName: 'y' })),
    );
    for (const [o] of outcomes) expect(o?.ok).toBe(true);
    const moved = outcomes
      .map(([o]) => lk.job(o?.job.id ?? ''))
      .filter((r) => r?.offers[0]?.answer === 'declined');
    expect(moved.length).toBeGreaterThan(0);
    for (const r of moved) expect(r?.offers.map((x) => x.answer)).toEqual(['declined', 'accepted']);
    expect(no.of('assignment')).toHaveLength(0);
  });

  it('never offers to a worker that reports WS_FULL or load ≥ 1', async () => {
    const full = await connectScriptedWorker(lk, { agentName: 'z' });
    const loaded = await connectScriptedWorker(lk, { agentName: 'z' });
    full.update(0, WorkerStatus.WS_FULL);
    loaded.update(1);
    await waitFor('both updates', () => lk.all('updateWorker').length >= 2);
    const [o] = await lk.dispatch({ room: 'r4', agentName: 'z' });
    expect(o).toMatchObject({ ok: false, reason: 'declined_by_all' });
    expect([...full.of('availability'), ...loaded.of('availability')]).toHaveLength(0);
  });

  it('a termination reaches only the holder; the server closes the job and ignores later updates', async () => {
    const a = await connectScriptedWorker(lk, { agentName: 't' });
    const b = await connectScriptedWorker(lk, { agentName: 'u' });
    const [o] = await lk.dispatch({ room: 'r5', agentName: 't' });
    const jobId = o?.job.id ?? '';
    expect(lk.terminate(jobId)).toBe(true);
    await waitFor('the termination', () => a.of('termination')[0]);
    expect(b.of('termination')).toHaveLength(0);
    a.send({
      case: 'updateJob',
      value: new UpdateJobStatus({ jobId, status: JobStatus.JS_FAILED, error: 'late' }),
    });
    await waitFor('the ignored update', () => lk.job(jobId)?.ignored[0]);
    expect(lk.job(jobId)?.statuses.map((s) => [JobStatus[s.status], s.by])).toEqual([
      ['JS_RUNNING', 'server'],
      ['JS_SUCCESS', 'server'],
    ]);
    expect(lk.terminate(jobId)).toBe(false);
  });

  it('forgets the jobs of a socket that closes: a later termination finds no worker', async () => {
    const a = await connectScriptedWorker(lk, { agentName: 'v' });
    const [o] = await lk.dispatch({ room: 'r6', agentName: 'v' });
    a.close();
    await waitFor('the socket gone', () => lk.workers().every((w) => !w.open));
    expect(lk.terminate(o?.job.id ?? '')).toBe(false);
  });

  it('topics: an explicit dispatch needs the exact agentName and deployment; automatic dispatch makes one job per namespace', async () => {
    expect(agentTopic('', 'ns', '')).toBe('ns');
    expect(agentTopic('a', '', 'blue')).toBe('a_blue');
    expect(agentTopic('a', 'ns', '')).toBe('a_ns');
    const named = await connectScriptedWorker(lk, { agentName: 'dental' });
    expect(await lk.dispatch({ room: 'r7', agentName: 'Dental' })).toEqual([]);
    const [d] = await lk.dispatch({ room: 'r7', agentName: 'dental', deployment: 'blue' });
    expect(d).toMatchObject({ ok: false, reason: 'no_worker' });
    const blue = await connectScriptedWorker(lk, { agentName: 'dental', deployment: 'blue' });
    const [b] = await lk.dispatch({ room: 'r7', agentName: 'dental', deployment: 'blue' });
    expect(b?.ok).toBe(true);
    await waitFor('the assignment', () => blue.of('assignment')[0]);
    expect(named.of('assignment')).toHaveLength(0);

    const plain = await connectScriptedWorker(lk, {});
    const spaced = await connectScriptedWorker(lk, { namespace: 'ns' });
    const jobs = await lk.dispatch({ room: 'r8' });
    expect(jobs.filter((j) => j.ok)).toHaveLength(2); // two agents in the room
    await waitFor('both assignments', () => plain.of('assignment')[0] && spaced.of('assignment')[0]);
  });

  it('refuses a socket without a bearer token, and runs no rooms: joins are recorded and hang', async () => {
    const ws = new WebSocket(`${lk.url}/agent`);
    const refused = await new Promise<string>((resolve) =>
      ws.once('unexpected-response', (_, res) => resolve(String(res.statusCode))),
    );
    expect(refused).toBe('401');
    expect(lk.attempts.at(-1)).toMatchObject({ accepted: false, reason: 'no bearer token' });
    const join = new WebSocket(`${lk.url}/rtc/v1`, { headers: { Authorization: 'Bearer x' } });
    await waitFor('the room join recorded', () => lk.joins.find((j) => j.authorization === 'Bearer x'));
    expect(join.readyState).toBe(WebSocket.CONNECTING);
    join.on('error', () => {});
    join.terminate();
  });
});
