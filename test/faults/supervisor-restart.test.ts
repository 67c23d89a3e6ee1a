import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { EXAMPLE_AGENTS, readyWorkers, sessionsReach } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { isAlive, waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();
const openrtc = useOpenrtc();

describe('kill -9 of the supervisor', () => {
  let client: PoolClient;
  const pool = 'suprestart';
  beforeAll(async () => {
    client = await PoolClient.connect({ url: nats.url, pool, log: captureLog().log });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('remote workers keep their sessions; a new supervisor rebuilds the pool from their hellos and heartbeats; the sessions then end and are accounted for', async () => {
    const supArgs = ['supervisor', EXAMPLE_AGENTS, '--nats', nats.url, '--pool', pool, '--heartbeat', '250'];
    const sup1 = openrtc(supArgs);
    const workers = ['r1', 'r2'].map((id) =>
      openrtc(['worker', '--nats', nats.url, '--pool', pool, '--id', id, '--capacity', '5', '--json-logs']),
    );
    await readyWorkers(client, 2, 60_000);
    const placed = await Promise.all(
      [0, 1, 2, 3].map(() =>
        client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 6000 } }),
      ),
    );
    await sessionsReach(client, placed, 'active');

    sup1.kill('SIGKILL');
    await exited(sup1);
    const beats: Extract<Message, { type: 'heartbeat' }>[] = [];
    const sub = client.bus.subscribe(client.subjects.eventsAll, (m) => {
      if (m.type === 'heartbeat') beats.push(m);
    });
    // Without a supervisor, the workers carry on: their heartbeats still list every session active.
    await waitFor('heartbeats without a supervisor', () => {
      const live = beats.flatMap((b) => b.sessions).filter((s) => s.state === 'active');
      return placed.every((p) => live.some((s) => s.session === p.session));
    });

    const restartedAt = Date.now();
    const sup2 = openrtc(supArgs);
    const rebuilt = await waitFor(
      'the new supervisor knows every session',
      async () => {
        const s = await client.status(500);
        return placed.every((p) => s.sessions.find((x) => x.session === p.session)?.state === 'active')
          ? s
          : undefined;
      },
      30_000,
      50,
    );
    const rebuildMs = Date.now() - restartedAt;
    for (const p of placed)
      expect(rebuilt.sessions.find((x) => x.session === p.session)?.worker).toBe(p.worker);
    expect(rebuilt.workers.map((w) => w.worker).sort()).toEqual(['r1', 'r2']);

    const ended = await waitFor(
      'the re-adopted sessions ended normally',
      async () => {
        const s = await client.status(500);
        return placed.every((p) => s.sessions.find((x) => x.session === p.session)?.state === 'closed')
          ? s
          : undefined;
      },
      30_000,
    );
    expect(ended.sessions.filter((s) => s.state === 'failed')).toHaveLength(0);
    recordFigure('supervisor_kill', { sessions: placed.length, rebuild_ms: rebuildMs });
    sub.unsubscribe();

    sup2.kill('SIGTERM');
    expect(await exited(sup2)).toBe(0);
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) expect(await exited(w)).toBe(0);
  }, 120_000);

  it('local workers whose supervisor never comes back finish their sessions and exit: no orphan runs forever', async () => {
    const start = openrtc([
      'start',
      EXAMPLE_AGENTS,
      '--nats',
      nats.url,
      '--pool',
      'orphans',
      '--workers',
      '1',
      '--drain-timeout',
      '3000',
    ]);
    const orphanClient = await PoolClient.connect({ url: nats.url, pool: 'orphans', log: captureLog().log });
    try {
      const [worker] = await readyWorkers(orphanClient, 1, 60_000);
      const pid = worker?.pid ?? -1;
      await orphanClient.dispatch({ agent: 'restaurant', audio: { kind: 'silence', durationMs: 60_000 } });
      start.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor('the orphaned worker exits', () => !isAlive(pid), 20_000, 100);
      recordFigure('orphan_exit', { drain_timeout_ms: 3000, exit_ms: Date.now() - killedAt });
    } finally {
      await orphanClient.close();
    }
  }, 90_000);
});
