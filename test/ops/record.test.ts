import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { RequestFailedError } from '../../src/runtime/nats/bus.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, sessionsReach, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const AGENTS = new URL('./agents', import.meta.url).pathname;
const nats = useNatsServer();
const dir = mkdtempSync(join(tmpdir(), 'openrtc-record-'));
const failFile = join(dir, 'fail');
const pools: TestPool[] = [];

afterAll(async () => {
  for (const p of pools) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = {
  OPENRTC_LOG_LEVEL: process.env.OPENRTC_TEST_WORKER_LOG ?? 'info',
  OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_TEST_AGENTS_LOG ?? 'error',
  OPENRTC_TEST_FAIL_FILE: failFile,
};

async function history(t: TestPool, session: string) {
  const { bus, subjects } = t.client;
  return bus.request(subjects.history, bus.make('history', { session }), 3000);
}

describe('durable record of ended sessions (JetStream, real processes)', () => {
  it('a restarted supervisor answers status and history for sessions that ended before it started; retention is bounded', async () => {
    const pool = `rec${Math.random().toString(36).slice(2, 7)}`;
    const a = await startTestPool(nats.url, { pool, agentsDir: AGENTS, workers: 1, workerEnv: env });
    pools.push(a);
    await readyWorkers(a.client, 1);
    const ok = await a.client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 200 } });
    await sessionsReach(a.client, [ok], 'closed');
    writeFileSync(failFile, 'fail');
    const bad = await a.client.dispatch({ agent: 'flaky' });
    await sessionsReach(a.client, [bad], 'failed');
    rmSync(failFile);
    const before = await history(a, ok.session);
    const known = (await a.client.status()).sessions.filter((s) =>
      [ok.session, bad.session].includes(s.session),
    );
    expect(known.map((s) => s.state).sort()).toEqual(['closed', 'failed']);
    expect(before.transitions.length).toBeGreaterThan(0);
    // A clean stop: the record's pending writes are flushed before the bus closes.
    await a.stop();
    pools.splice(pools.indexOf(a), 1);

    // A new supervisor (new workers, nobody left who knew these sessions), same pool and NATS.
    const b = await startTestPool(nats.url, {
      pool,
      agentsDir: AGENTS,
      workers: 1,
      workerEnv: env,
      operations: { record: { maxSessions: 2 } },
    });
    pools.push(b);
    const status = await b.client.status();
    const okView = status.sessions.find((s) => s.session === ok.session);
    const badView = status.sessions.find((s) => s.session === bad.session);
    expect(okView, `status of the new supervisor: ${JSON.stringify(status.sessions)}`).toMatchObject({
      agent: 'steady',
      worker: ok.worker,
      jobId: ok.jobId,
      state: 'closed',
    });
    expect(badView).toMatchObject({ agent: 'flaky', state: 'failed', error: { code: 'prewarm_failed' } });
    // Exactly what the first supervisor reported.
    expect([okView, badView].sort((x, y) => (x?.session ?? '').localeCompare(y?.session ?? ''))).toEqual(
      known.sort((x, y) => x.session.localeCompare(y.session)),
    );

    const after = await history(b, ok.session);
    expect(after).toMatchObject({ session: ok.session, worker: ok.worker, ended: true });
    expect(after.transitions.map((x) => x.to)).toEqual(before.transitions.map((x) => x.to));
    expect(after.transitions.at(-1)?.to).toBe('closed');

    // Bounded: the stream keeps one message per session, at most maxSessions, for maxAgeMs.
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(`OPENRTC_RECORD_${pool}`);
      expect(info.config).toMatchObject({ max_msgs: 2, max_msgs_per_subject: 1 });
      expect(info.config.max_age).toBe(7 * 86_400_000 * 1_000_000);
    } finally {
      await nc.close();
    }
    // A third session ends: the oldest record (ok) is dropped, so no supervisor can answer for it.
    await readyWorkers(b.client, 1);
    const third = await b.client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 100 } });
    await sessionsReach(b.client, [third], 'closed');
    await waitFor('the oldest session to leave the bounded record', async (note) => {
      const err = await history(b, ok.session).then(
        (r) => r,
        (e: unknown) => e,
      );
      note(err instanceof RequestFailedError ? err.error : err);
      return err instanceof RequestFailedError && err.error.code === 'unknown_session';
    });
    expect((await history(b, bad.session)).ended).toBe(true);
  });
});
