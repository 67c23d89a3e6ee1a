import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { isAlive, waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();

describe('a hung worker (SIGSTOP past the heartbeat timeout)', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { capacity: 4, heartbeatMs: 250 });
    await readyWorkers(t.client, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('is declared lost, its sessions are reported worker_lost, it is killed and replaced; the other worker is untouched', async () => {
    const placed = await Promise.all(
      [0, 1, 2, 3].map(() => t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 60_000 } })),
    );
    await waitFor('sessions active', async () => {
      const s = await t.client.status();
      return placed.every((p) => s.sessions.find((x) => x.session === p.session)?.state === 'active');
    });
    const before = await t.client.status();
    const victim = before.workers.find((w) => w.worker === placed[0]?.worker);
    if (!victim?.pid) throw new Error('no victim pid');
    const lost = placed.filter((p) => p.worker === victim.worker);
    const kept = placed.filter((p) => p.worker !== victim.worker);

    const stoppedAt = Date.now();
    process.kill(victim.pid, 'SIGSTOP');
    const after = await waitFor('the hung worker declared lost', async () => {
      const s = await t.client.status();
      return lost.every((p) => s.sessions.find((x) => x.session === p.session)?.error?.code === 'worker_lost') ? s : undefined;
    });
    const detectMs = Date.now() - stoppedAt;
    for (const p of kept) expect(after.sessions.find((x) => x.session === p.session)?.state).toBe('active');
    // A stopped process cannot catch SIGKILL: the supervisor's kill ends it for good.
    await waitFor('the hung process is gone', () => !isAlive(victim.pid as number), 10_000);
    const replaced = await waitFor('a replacement is ready', async () => {
      const s = await t.client.status();
      const w = s.workers.find((x) => x.worker === victim.worker);
      return w?.state === 'ready' && w.pid !== victim.pid ? w : undefined;
    }, 30_000);
    recordFigure('hung_worker', { heartbeat_ms: 250, detect_ms: detectMs, ready_ms: Date.now() - stoppedAt });
    expect(replaced.restarts).toBe(1);
    const final = await t.client.status();
    for (const p of lost) expect(final.sessions.find((x) => x.session === p.session)?.state).toBe('failed');
    for (const p of kept) {
      await t.client.bus.request(t.client.subjects.workerCmd(p.worker), t.client.bus.make('session.cancel', { session: p.session }), 2000);
    }
  }, 60_000);
});
