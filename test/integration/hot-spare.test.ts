import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, sessionsReach, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();

describe('a hot spare worker (real processes)', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { workers: 1, spares: 1, capacity: 4 });
    await readyWorkers(t.client, 1);
    await waitFor('the spare ready', async () =>
      (await t.client.status()).workers.some((w) => w.spare && w.state === 'ready'),
    );
  }, 90_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('a worker killed: its session is reported lost, the spare serves at once, a new spare boots', async () => {
    const before = await t.client.status();
    const spare = before.workers.find((w) => w.spare);
    const serving = before.workers.find((w) => !w.spare);
    expect(spare?.state).toBe('ready');
    if (!serving?.pid || !spare) throw new Error('no serving worker and spare');

    const placed = await t.client.dispatch({
      agent: 'restaurant',
      audio: { kind: 'silence', durationMs: 60_000 },
    });
    expect(placed.worker).toBe(serving.worker);
    await sessionsReach(t.client, [placed], 'active');

    process.kill(serving.pid, 'SIGKILL');
    await waitFor('the lost session reported', async () => {
      const s = await t.client.status();
      return s.sessions.find((x) => x.session === placed.session)?.state === 'failed' ? s : undefined;
    });
    // The spare took the lost worker's place: no restart to wait for before a dispatch succeeds.
    const next = await t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 60_000 } });
    expect(next.worker).toBe(spare.worker);
    await sessionsReach(t.client, [next], 'active');

    // The lost worker boots again in the background, as the new spare.
    const respawned = await waitFor(
      'a new spare ready',
      async () => {
        const s = await t.client.status();
        const w = s.workers.find((x) => x.worker === serving.worker);
        return w && w.state === 'ready' && w.pid !== serving.pid && w.spare ? w : undefined;
      },
      60_000,
    );
    expect(respawned.active).toBe(0);
    const s = await t.client.status();
    expect(s.workers.find((w) => w.worker === spare.worker)?.spare).toBeFalsy();
  }, 120_000);
});
