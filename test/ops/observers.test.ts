import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObserverEvent } from '../../src/runtime/ops/observers.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, sessionsReach, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const AGENTS = new URL('./agents', import.meta.url).pathname;
const RECORDER = new URL('./observers/recorder.ts', import.meta.url).pathname;
const THROWING = new URL('./observers/throwing.ts', import.meta.url).pathname;
const nats = useNatsServer();
const observed = (): ObserverEvent[] =>
  (globalThis as { __openrtcObserved?: ObserverEvent[] }).__openrtcObserved ?? [];
let t: TestPool;

beforeAll(async () => {
  t = await startTestPool(nats.url, {
    agentsDir: AGENTS,
    workers: 2,
    capacity: 4,
    // The throwing observer comes first: the recorder after it must still see everything.
    operations: { observers: [THROWING, RECORDER] },
  });
  await readyWorkers(t.client, 2);
});

afterAll(async () => {
  await t?.stop();
});

describe('session observers (real supervisor, worker processes, nats-server)', () => {
  it('an observer sees every session start and end with its outcome; a throwing observer changes nothing', async () => {
    const tenant = { metadata: JSON.stringify({ tenant: 'acme', order: 7 }) };
    const dispatched = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.client.dispatch({
          agent: 'steady',
          audio: { kind: 'silence', durationMs: 300 + 100 * i },
          ...(i % 2 === 0 ? { job: tenant } : {}),
        }),
      ),
    );
    // One session is cancelled: its end carries outcome cancelled.
    const cancelled = await t.client.dispatch({
      agent: 'steady',
      audio: { kind: 'silence', durationMs: 60_000 },
    });
    await sessionsReach(t.client, [cancelled], (s) => s.state === 'active');
    await t.pool.service.cancel(cancelled.session, 'observer test');

    // Every session ran to its normal end despite the throwing observer.
    await sessionsReach(t.client, dispatched, 'closed', 30_000);
    await sessionsReach(t.client, [cancelled], 'cancelled', 30_000);
    const all = [...dispatched, cancelled];
    const events = await waitFor('a start and an end of every session at the recorder', (note) => {
      const e = observed();
      note(e.map((x) => `${x.type}:${x.session}`));
      return all.every((s) => e.some((x) => x.type === 'session.end' && x.session === s.session))
        ? e
        : undefined;
    });
    for (const s of all) {
      const mine = events.filter((e) => e.session === s.session);
      expect(
        mine.map((e) => e.type),
        `events of ${s.session}`,
      ).toEqual(['session.start', 'session.end']);
      expect(mine[0]).toMatchObject({ agent: 'steady', worker: s.worker, jobId: s.jobId, pool: t.pool.pool });
    }
    const ends = events.filter((e) => e.type === 'session.end');
    expect(ends.filter((e) => e.outcome === 'success')).toHaveLength(6);
    expect(ends.find((e) => e.session === cancelled.session)).toMatchObject({
      outcome: 'cancelled',
      lost: false,
    });
    // Tenant and metadata as dispatched; the throwing observer's tampering reached nobody.
    const first = events.find((e) => e.session === dispatched[0]?.session && e.type === 'session.start');
    expect(first).toMatchObject({ tenant: 'acme', metadata: tenant.metadata, agent: 'steady' });
    const firstEnd = ends.find((e) => e.session === dispatched[0]?.session);
    expect(firstEnd).toMatchObject({ tenant: 'acme' });
    expect(firstEnd?.durationMs).toBeGreaterThan(0);
    // Plain data: it survives a JSON round trip unchanged.
    expect(JSON.parse(JSON.stringify(events))).toEqual(events);

    // The throwing observer's failures were logged, naming its file and the session.
    const failures = t.lines.filter((l) => l.msg === 'session observer failed (the session is not affected)');
    expect(failures.filter((l) => l.observer === THROWING)).toHaveLength(all.length * 2);
    expect(failures.every((l) => typeof l.session === 'string')).toBe(true);
    const status = await t.client.status();
    expect(status.sessions.filter((s) => s.state === 'failed')).toEqual([]);
  });
});
