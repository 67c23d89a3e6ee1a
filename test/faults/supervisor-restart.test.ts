import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageOf } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { cancelOnWorker, EXAMPLE_AGENTS, readyWorkers, sessionsReach } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { isAlive, waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

type Heartbeat = MessageOf<'heartbeat'>;

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

  it('sessions that end while no supervisor runs are accounted for: a new supervisor lists every session with its true outcome, and its exit code counts adopted sessions the drain cut short', async () => {
    // The production heartbeat. sup2 drains for 3 s at SIGTERM: the longest session is cut short.
    const supArgs = [
      'supervisor',
      EXAMPLE_AGENTS,
      '--nats',
      nats.url,
      '--pool',
      pool,
      '--drain-timeout',
      '3000',
    ];
    const sup1 = openrtc(supArgs);
    const workers = ['r1', 'r2'].map((id) =>
      openrtc(['worker', '--nats', nats.url, '--pool', pool, '--id', id, '--capacity', '5', '--json-logs']),
    );
    await readyWorkers(client, 2, 60_000);

    // What the workers themselves publish is the truth the new supervisor must match.
    const ends = new Map<string, { outcome: string; at: number }>();
    const beats: Heartbeat[] = [];
    const sub = client.bus.subscribe(client.subjects.eventsAll, (m) => {
      if (m.type === 'session.ended') ends.set(m.session, { outcome: m.outcome, at: Date.now() });
      if (m.type === 'heartbeat') beats.push(m);
    });
    const silence = (durationMs: number) =>
      client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs } });
    // Short ones end while no supervisor runs; `cancelled` is cancelled while none runs; the
    // medium ones are still active when the new one starts, and end under it when the test cancels
    // them (an end by command, not by a length guessed to outlast a restart on a loaded machine);
    // `long` is still running when the new supervisor drains.
    const [short1, short2, medium1, medium2, cancelled, long] = await Promise.all([
      silence(5000),
      silence(6000),
      silence(180_000),
      silence(180_000),
      silence(180_000),
      silence(180_000),
    ]);
    const all = { short1, short2, medium1, medium2, cancelled, long };
    const sessions = Object.values(all);
    await sessionsReach(client, sessions, 'active', 30_000);

    sup1.kill('SIGKILL');
    await exited(sup1);
    const killedAt = Date.now();
    // With no supervisor, a session is cancelled on its worker directly.
    const ack = await cancelOnWorker(client, cancelled, 'test: cancelled while no supervisor runs');
    expect(ack.type).toBe('ack');
    // Kept down until those sessions have ended (their workers say so), and the others still run.
    await waitFor(
      'the short and the cancelled sessions to end while no supervisor runs',
      (note) => {
        const live = new Set(
          beats.slice(-4).flatMap((b) => b.sessions.map((x) => `${x.session}:${x.state}`)),
        );
        note({ ended: Object.fromEntries(ends), heartbeats: [...live] });
        return [short1, short2, cancelled].every((p) => ends.has(p.session));
      },
      30_000,
    );
    expect(ends.get(cancelled.session)).toMatchObject({ outcome: 'cancelled' });
    expect(ends.get(cancelled.session)?.at).toBeGreaterThan(killedAt);

    const restartedAt = Date.now();
    const sup2 = openrtc(supArgs);
    const STATE: Record<string, string> = { success: 'closed', failed: 'failed', cancelled: 'cancelled' };
    const rebuilt = await waitFor(
      'the new supervisor to list every session, those that ended while it was down with their outcome',
      async (note) => {
        const s = await client.status(1000);
        const seen = sessions.map((p) => {
          const x = s.sessions.find((y) => y.session === p.session);
          return {
            session: p.session,
            worker: x?.worker,
            state: x?.state,
            truth: ends.get(p.session)?.outcome,
          };
        });
        note(seen);
        // Every session is listed; each one its worker reported ended, with that outcome.
        const right = seen.every((x) => x.state !== undefined && (!x.truth || x.state === STATE[x.truth]));
        return right && s.workers.length === 2 ? s : undefined;
      },
      60_000,
      100,
    );
    const rebuildMs = Date.now() - restartedAt;
    for (const p of sessions)
      expect(rebuilt.sessions.find((x) => x.session === p.session)?.worker).toBe(p.worker);
    expect(rebuilt.workers.map((w) => w.worker).sort()).toEqual(['r1', 'r2']);
    for (const p of [short1, short2])
      expect(rebuilt.sessions.find((x) => x.session === p.session)?.state).toBe('closed');
    expect(rebuilt.sessions.find((x) => x.session === cancelled.session)?.state).toBe('cancelled');
    for (const p of [medium1, medium2, long])
      expect(rebuilt.sessions.find((x) => x.session === p.session)?.state).toBe('active');

    // The medium sessions, adopted live, end under the new supervisor with their true outcome.
    for (const p of [medium1, medium2])
      expect((await cancelOnWorker(client, p, 'test: ended under the new supervisor')).type).toBe('ack');
    const done = await waitFor(
      'the medium sessions to end under the new supervisor',
      async (note) => {
        const s = await client.status(1000);
        const states = [medium1, medium2].map((p) => s.sessions.find((x) => x.session === p.session)?.state);
        note({ states, truth: [medium1, medium2].map((p) => ends.get(p.session)) });
        return states.every((x) => x === 'cancelled') ? s : undefined;
      },
      60_000,
      100,
    );
    for (const p of sessions) {
      const truth = ends.get(p.session);
      const listed = done.sessions.find((x) => x.session === p.session)?.state;
      expect({ session: p.session, state: listed }).toEqual({
        session: p.session,
        state: truth ? STATE[truth.outcome] : 'active',
      });
    }
    recordFigure('supervisor_kill', { sessions: sessions.length, rebuild_ms: rebuildMs });

    // SIGTERM: the drain cuts the long session (adopted, never dispatched by this supervisor)
    // short, and the exit code says so.
    sup2.kill('SIGTERM');
    expect(await exited(sup2)).toBe(4);
    const cut = await waitFor('the long session to end, cut short by the drain', (note) => {
      note(ends.get(long.session) ?? 'not ended');
      return ends.get(long.session);
    });
    expect(cut.outcome).toBe('cancelled');
    expect(sup2.output()).toContain(long.session);
    sub.unsubscribe();
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) expect(await exited(w)).toBe(0);
  }, 240_000);

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
      '--spares',
      '0',
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
