import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestFailedError } from '../../src/runtime/nats/bus.ts';
import { useNatsServer } from '../support/nats.ts';
import {
  cancelOnWorker,
  readyWorkers,
  sessionsReach,
  startTestPool,
  type TestPool,
} from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();

describe('nats-server outages mid-load', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { capacity: 4 });
    await readyWorkers(t.client, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  for (const outageMs of [1000, 5000]) {
    it(`a ${outageMs / 1000} s outage: sessions keep running, everyone reconnects, the view reconciles, nothing is duplicated, a dispatch during it fails fast`, async () => {
      const placed = await Promise.all(
        [0, 1, 2, 3].map(() =>
          t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 120_000 } }),
        ),
      );
      await sessionsReach(t.client, placed, 'active');
      const before = await t.client.status();
      const heard = new Map<string, number>();
      const sub = t.client.bus.subscribe(t.client.subjects.eventsAll, (m) => {
        if (m.type === 'heartbeat') heard.set(m.worker, Date.now());
      });

      await nats.server.pause();
      await waitFor('the client sees the link down', () => !t.client.bus.connected, 5000);
      const tried = Date.now();
      const err = await t.client.dispatch({ agent: 'dental' }, 5000).catch((e: unknown) => e);
      const failedAfterMs = Date.now() - tried;
      expect(err).toBeInstanceOf(RequestFailedError);
      expect((err as RequestFailedError).error.code).toBe('nats_unavailable');
      // Fails at once rather than waiting out its 5000 ms timeout; the bound leaves room for a busy CPU.
      expect(failedAfterMs).toBeLessThan(2500);
      // The outage itself lasts outageMs: the scenario, not a wait for something to happen.
      await new Promise((r) => setTimeout(r, outageMs));
      const back = Date.now();
      await nats.server.start();

      const after = await waitFor(
        'the supervisor view reconciled',
        async () => {
          const s = await t.client.status(1000);
          const allActive = placed.every(
            (p) => s.sessions.find((x) => x.session === p.session)?.state === 'active',
          );
          // A heartbeat from every worker after the server came back: each one reconnected.
          const workersUp = s.workers.every((w) => w.state === 'ready' && (heard.get(w.worker) ?? 0) > back);
          return allActive && workersUp ? s : undefined;
        },
        20_000,
        50,
      );
      recordFigure('nats_outage', {
        outage_ms: outageMs,
        reconcile_ms: Date.now() - back,
        dispatch_fail_fast_ms: failedAfterMs,
      });
      // Nothing lost, nothing duplicated: the same sessions on the same workers, each once.
      expect(after.sessions.filter((s) => placed.some((p) => p.session === s.session))).toHaveLength(
        placed.length,
      );
      expect(new Set(after.sessions.map((s) => s.session)).size).toBe(after.sessions.length);
      for (const p of placed)
        expect(after.sessions.find((x) => x.session === p.session)?.worker).toBe(p.worker);
      expect(after.workers.map((w) => [w.worker, w.pid, w.restarts])).toEqual(
        before.workers.map((w) => [w.worker, w.pid, w.restarts]),
      );
      sub.unsubscribe();
      for (const p of placed) {
        await cancelOnWorker(t.client, p, undefined, 2000);
      }
    }, 60_000);
  }
});
