import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/index.ts';
import { useNatsServer } from '../support/nats.ts';
import { AUDIO, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();

describe('one worker process, many sessions, one Silero model', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { workers: 1, capacity: 20 });
    await readyWorkers(t.client, 1);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('20 concurrent sessions on one worker share one Silero model, and each hears the speech in its audio', async () => {
    const heartbeats: Extract<Message, { type: 'heartbeat' }>[] = [];
    const sub = t.client.bus.subscribe(t.client.subjects.eventsAll, (m) => {
      if (m.type === 'heartbeat') heartbeats.push(m);
    });
    const placed = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.client.dispatch({
          agent: i % 2 ? 'dental' : 'restaurant',
          audio: { kind: 'wav', path: i % 2 ? AUDIO.dental : AUDIO.restaurant, realtime: false },
        }),
      ),
    );
    expect(new Set(placed.map((p) => p.worker)).size).toBe(1);
    const peak = await waitFor(
      'a heartbeat with 20 live sessions',
      () => heartbeats.find((h) => h.active === 20),
      20_000,
    );
    expect(peak.sessions).toHaveLength(20);
    const entries = await waitFor(
      'every session ended',
      () => {
        const es = placed.map((p) => t.pool.service.ledger.get(p.session));
        return es.every((e) => e?.end) ? es : undefined;
      },
      60_000,
    );
    for (const e of entries) {
      expect(e?.end?.state).toBe('closed');
      // restaurant.wav has 2 utterances, dental.wav 3 (assets/audio/segments.json).
      expect(e?.speech.end).toBe(e?.agent === 'dental' ? 3 : 2);
    }
    const last = await waitFor('a heartbeat after the sessions ended', () => heartbeats.at(-1));
    expect(last.prewarm.vadLoads).toBe(1);
    sub.unsubscribe();
  });
});
