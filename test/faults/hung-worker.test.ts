import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../support/nats.ts';
import {
  cancelOnWorker,
  readyWorkers,
  sessionsReach,
  startTestPool,
  type TestPool,
} from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { isAlive, waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();

describe('a hung worker (SIGSTOP past the heartbeat timeout)', () => {
  let t: TestPool;
  beforeAll(async () => {
    // The production heartbeat: a shorter one would detect a hang sooner, but on a busy machine it
    // also declares healthy workers lost. Detection takes missedHeartbeats × 1000 ms here.
    t = await startTestPool(nats.url, { capacity: 4 });
    await readyWorkers(t.client, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('is declared lost, its sessions are reported worker_lost, it is killed and replaced; the other worker is untouched', async () => {
    const placed = await Promise.all(
      [0, 1, 2, 3].map(() =>
        t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 60_000 } }),
      ),
    );
    await sessionsReach(t.client, placed, 'active');
    const before = await t.client.status();
    const victim = before.workers.find((w) => w.worker === placed[0]?.worker);
    if (!victim?.pid) throw new Error('no victim pid');
    const lost = placed.filter((p) => p.worker === victim.worker);
    const kept = placed.filter((p) => p.worker !== victim.worker);

    const stoppedAt = Date.now();
    process.kill(victim.pid, 'SIGSTOP');
    const after = await waitFor('the hung worker declared lost', async () => {
      const s = await t.client.status();
      return lost.every((p) => s.sessions.find((x) => x.session === p.session)?.error?.code === 'worker_lost')
        ? s
        : undefined;
    });
    const detectMs = Date.now() - stoppedAt;
    for (const p of kept) expect(after.sessions.find((x) => x.session === p.session)?.state).toBe('active');
    // A stopped process cannot catch SIGKILL: the supervisor's kill ends it for good.
    await waitFor('the hung process is gone', () => !isAlive(victim.pid as number), 10_000);
    const replaced = await waitFor(
      'a replacement is ready',
      async () => {
        const s = await t.client.status();
        const w = s.workers.find((x) => x.worker === victim.worker);
        return w?.state === 'ready' && w.pid !== victim.pid ? w : undefined;
      },
      30_000,
    );
    recordFigure('hung_worker', {
      heartbeat_ms: 1000,
      detect_ms: detectMs,
      ready_ms: Date.now() - stoppedAt,
    });
    expect(replaced.restarts).toBe(1);
    const final = await t.client.status();
    for (const p of lost) expect(final.sessions.find((x) => x.session === p.session)?.state).toBe('failed');
    for (const p of kept) {
      await cancelOnWorker(t.client, p, undefined, 2000);
    }
  }, 60_000);
});

describe('a hung remote worker that wakes up (SIGSTOP, then SIGCONT)', () => {
  const openrtc = useOpenrtc();
  it('is fenced: whatever the stale incarnation sends is ignored, it is told to shut down, and the pool state stays right', async () => {
    const pool = 'fence';
    const t = await startTestPool(nats.url, { pool, workers: 0 });
    try {
      const remote = openrtc([
        'worker',
        '--nats',
        nats.url,
        '--pool',
        pool,
        '--id',
        'r1',
        '--capacity',
        '4',
        '--json-logs',
      ]);
      const [w] = await readyWorkers(t.client, 1);
      if (!w?.pid) throw new Error('no remote worker pid');
      const placed = await Promise.all(
        [0, 1].map(() =>
          t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 60_000 } }),
        ),
      );
      await sessionsReach(t.client, placed, 'active');
      process.kill(w.pid, 'SIGSTOP');
      await waitFor('declared lost', async () => {
        const s = await t.client.status();
        return placed.every(
          (p) => s.sessions.find((x) => x.session === p.session)?.error?.code === 'worker_lost',
        );
      });
      const wokeAt = Date.now();
      process.kill(w.pid, 'SIGCONT');
      // The stale incarnation wakes up, still hosting the sessions, and reports them: fenced.
      expect(await exited(remote)).toBe(0);
      recordFigure('hung_remote_worker_fenced', {
        heartbeat_ms: 1000,
        shutdown_after_wake_ms: Date.now() - wokeAt,
      });
      expect(remote.output()).toContain('shutdown by the supervisor');
      expect(t.lines.some((l) => String(l.msg).startsWith('fenced:') && l.worker === 'r1')).toBe(true);
      const s = await t.client.status();
      for (const p of placed) {
        const x = s.sessions.find((y) => y.session === p.session);
        expect(x?.state).toBe('failed');
        expect(x?.error?.code).toBe('worker_lost');
      }
      expect(s.workers.find((x) => x.worker === 'r1')?.state).toBe('failed');
    } finally {
      await t.stop();
    }
  }, 60_000);
});
