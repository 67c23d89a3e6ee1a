import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestFailedError } from '../../src/runtime/nats/bus.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();

describe('overload', () => {
  let t: TestPool;
  const capacity = 3;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { capacity });
    await readyWorkers(t.client, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('a burst of 5× pool capacity: the excess is refused at once with no_capacity, every accepted session completes, nothing queues', async () => {
    const poolCapacity = 2 * capacity;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 5 * poolCapacity }, () =>
        t.client
          .dispatch({ agent: 'restaurant', audio: { kind: 'silence', durationMs: 1500 } })
          .then((ok) => ({ ok }))
          .catch((err: unknown) => ({ err })),
      ),
    );
    const burstMs = Date.now() - started;
    const accepted = results.flatMap((r) => ('ok' in r ? [r.ok] : []));
    const refused = results.flatMap((r) => ('err' in r ? [r.err] : []));
    expect(accepted).toHaveLength(poolCapacity);
    expect(refused).toHaveLength(4 * poolCapacity);
    for (const err of refused) {
      expect(err).toBeInstanceOf(RequestFailedError);
      expect((err as RequestFailedError).error.code).toBe('no_capacity');
    }
    const ended = await waitFor('every accepted session ended', () => {
      const es = accepted.map((a) => t.pool.service.ledger.get(a.session));
      return es.every((e) => e?.end) ? es : undefined;
    });
    for (const e of ended) expect(e?.end?.state).toBe('closed');
    // Nothing was queued: the refused dispatches never became sessions.
    const status = await t.client.status();
    expect(status.sessions.filter((s) => !accepted.some((a) => a.session === s.session))).toHaveLength(0);
    recordFigure('overload', {
      burst: results.length,
      accepted: accepted.length,
      refused: refused.length,
      burst_ms: burstMs,
    });
  });
});
