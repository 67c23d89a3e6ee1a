import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/protocol/index.ts';
import { discoverAgents } from '../../src/runtime/agents/load.ts';
import { Bus } from '../../src/runtime/nats/bus.ts';
import type { SessionUpdate } from '../../src/runtime/supervisor/service.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { EXAMPLE_AGENTS, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();
const openrtc = useOpenrtc();

type Wire = { subject: string; msg: Record<string, unknown> };

/** Every message published under the pool's subjects, parsed, in arrival order. */
async function tapPool(url: string, pool: string): Promise<{ nc: NatsConnection; wire: Wire[] }> {
  const nc = await connect({ servers: url });
  const wire: Wire[] = [];
  nc.subscribe(`openrtc.${pool}.>`, {
    callback: (_, m) => {
      try {
        wire.push({ subject: m.subject, msg: JSON.parse(m.string()) as Record<string, unknown> });
      } catch {
        // not JSON: not ours
      }
    },
  });
  await nc.flush();
  return { nc, wire };
}

const about = (wire: Wire[], session: string) =>
  wire.filter(
    ({ msg }) => msg.session === session || (msg.actor as { id?: string } | undefined)?.id === session,
  );

describe('one publish per session transition (real supervisor, a real worker process, real nats-server)', () => {
  let t: TestPool;
  let tap: Awaited<ReturnType<typeof tapPool>>;
  const updates: SessionUpdate[] = [];

  beforeAll(async () => {
    const pool = `one${Date.now() % 100000}`;
    tap = await tapPool(nats.url, pool);
    t = await startTestPool(nats.url, { pool, workers: 1 });
    t.pool.service.onSession((u) => updates.push(u));
    await readyWorkers(t.client, 1);
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await tap?.nc.close();
  });

  it('a worker publishes each transition once, as an inspect carrying its epoch, and the supervisor takes it as the report', async () => {
    const ok = await t.client.dispatch({ agent: 'restaurant', audio: { kind: 'silence', durationMs: 300 } });
    await waitFor(`session ${ok.session} closed, as the supervisor heard it`, () =>
      updates.find((u) => u.session === ok.session && u.state === 'closed'),
    );
    const status = await t.client.status();
    const epoch = status.workers.find((w) => w.worker === ok.worker)?.epoch;
    expect(epoch).toBeTruthy();
    await waitFor('the closed transition on the wire', () =>
      about(tap.wire, ok.session).find(({ msg }) => msg.type === 'inspect' && msg.toState === 'closed'),
    );
    const mine = about(tap.wire, ok.session);
    expect(mine.filter(({ msg }) => msg.type === 'session.state')).toEqual([]);
    const transitions = mine
      .filter(({ msg }) => msg.type === 'inspect')
      .map(({ subject, msg }) => ({
        subject,
        to: msg.toState,
        seq: msg.seq,
        epoch: msg.epoch,
      }));
    const states = ['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed'];
    expect(transitions).toEqual(
      states.map((to, i) => ({ subject: subjects(t.pool.pool).inspect(ok.worker), to, seq: i + 1, epoch })),
    );
    // Non-final states reach the supervisor's listeners (the LiveKit dispatcher) only from a
    // worker's report: here, the inspect messages.
    expect(updates.filter((u) => u.session === ok.session).map((u) => u.state)).toEqual(
      expect.arrayContaining(['prewarming', 'connecting', 'active', 'closing', 'closed']),
    );
    // The history and the inspectors have every transition, from the same messages.
    const h = t.pool.service.history.get(ok.session);
    expect(h?.transitions.map((x) => x.to)).toEqual(states);
  });
});

describe('a worker and an older supervisor (its welcome does not say transitionsOnInspect)', () => {
  it('the worker publishes each transition as session.state and as inspect, as before', async () => {
    const pool = `old${Date.now() % 100000}`;
    const s = subjects(pool);
    const tap = await tapPool(nats.url, pool);
    const { agents } = await discoverAgents(EXAMPLE_AGENTS);
    // The older supervisor: answers hellos with a welcome of the frozen protocol.
    const sup = await Bus.connect({
      url: nats.url,
      name: 'old-supervisor',
      self: 'supervisor',
      log: captureLog().log,
    });
    sup.subscribe(s.helloAll, (msg) =>
      msg.type === 'hello'
        ? sup.make('welcome', {
            ref: msg.id,
            version: 1,
            pool,
            supervisorEpoch: 'old1',
            heartbeatMs: 1000,
            agents,
          })
        : undefined,
    );
    await sup.flush();
    try {
      openrtc(['worker', '--nats', nats.url, '--pool', pool, '--id', 'w1', '--capacity', '2']);
      await waitFor('the worker ready', () =>
        tap.wire.find(({ msg }) => msg.type === 'worker.state' && msg.state === 'ready'),
      );
      const start = sup.make('session.start', {
        session: 'sold1',
        agent: 'restaurant',
        job: { id: 'jold1', room: 'restaurant-old' },
        transport: {
          kind: 'local',
          input: { kind: 'silence', durationMs: 300 },
          output: { kind: 'discard' },
        },
      });
      expect((await sup.request(s.workerCmd('w1'), start, 5000)).type).toBe('ack');
      await waitFor('the session closed, as session.state and as inspect', () => {
        const closed = about(tap.wire, 'sold1').filter(
          ({ msg }) => msg.state === 'closed' || msg.toState === 'closed',
        );
        return closed.length === 2 ? closed : undefined;
      });
      const mine = about(tap.wire, 'sold1');
      const reports = mine.filter(({ msg }) => msg.type === 'session.state').map(({ msg }) => msg.seq);
      const inspections = mine.filter(({ msg }) => msg.type === 'inspect');
      expect(reports).toEqual([1, 2, 3, 4, 5, 6]);
      expect(inspections.map(({ msg }) => msg.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      // Without the supervisor's word, an inspection event is never a report.
      expect(inspections.every(({ msg }) => msg.epoch === undefined)).toBe(true);
    } finally {
      await sup.close();
      await tap.nc.close();
    }
  });
});
