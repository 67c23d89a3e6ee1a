import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/protocol/index.ts';
import { useNatsServer } from '../support/nats.ts';
import { AUDIO, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { isAlive, waitFor } from '../support/wait.ts';

const nats = useNatsServer();

describe('a pool of a supervisor and 2 worker processes over a real nats-server', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url);
    await readyWorkers(t.client, 2);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('a dispatch reaches active on a worker process and ends closed; sessions spread over both workers', async () => {
    const results = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const seen: string[] = [];
        const follow = t.client.follow((tr) => seen.push(tr.to));
        await t.client.bus.flush();
        const ok = await t.client.dispatch({
          agent: i % 2 ? 'dental' : 'restaurant',
          audio: { kind: 'wav', path: i % 2 ? AUDIO.dental : AUDIO.restaurant, realtime: false },
        });
        follow.track(ok.session);
        const final = await follow.done;
        follow.sub.unsubscribe();
        return { ok, final, seen };
      }),
    );
    for (const r of results) {
      expect(r.final.to).toBe('closed');
      expect(r.seen).toContain('active');
    }
    expect(new Set(results.map((r) => r.ok.worker)).size).toBe(2);
    for (const r of results) {
      // session.ended reaches the supervisor just after the inspection event the client saw.
      const entry = await waitFor('the ledger records the end', () => {
        const e = t.pool.service.ledger.get(r.ok.session);
        return e?.end ? e : undefined;
      });
      expect(entry.end?.state).toBe('closed');
      // The real Silero VAD heard the real speech in the bundled audio.
      expect(entry.speech.start).toBeGreaterThan(0);
    }
  });

  it('a repeated dispatch of the same job returns the same session', async () => {
    const job = { id: `job-${Date.now()}` };
    const a = await t.client.dispatch({
      agent: 'restaurant',
      job,
      audio: { kind: 'silence', durationMs: 200 },
    });
    const b = await t.client.dispatch({
      agent: 'restaurant',
      job,
      audio: { kind: 'silence', durationMs: 200 },
    });
    expect(b.session).toBe(a.session);
    expect(b.existing).toBe(true);
    expect(a.existing).toBe(false);
  });

  it('an unknown agent is refused with a clear error, never a silent fallback', async () => {
    await expect(t.client.dispatch({ agent: 'nobody' })).rejects.toThrow(/Unknown agent 'nobody'/);
  });

  it('malformed messages on every subject are rejected with a reason, and every process keeps serving', async () => {
    const s = subjects(t.pool.pool);
    const status = await t.client.status();
    const raw = await connect({ servers: nats.url });
    const targets = [
      s.dispatch,
      s.status,
      s.hello('w1'),
      s.events('w1'),
      s.broadcast,
      ...status.workers.map((w) => s.workerCmd(w.worker)),
    ];
    const bad = [
      '{not json',
      JSON.stringify({ v: 1, id: 'x', ts: 1, from: 'w1', type: 'no.such.type' }),
      JSON.stringify({ v: 1, id: 'x', ts: 1, from: 'w1', type: 'heartbeat', worker: 'w1' }),
      JSON.stringify({ v: 1, id: 'x', ts: 1, from: 'w1', type: 'session.cancel' }),
      'x'.repeat(600 * 1024),
    ];
    for (const subject of targets) for (const payload of bad) raw.publish(subject, payload);
    await raw.flush();
    await raw.close();
    const after = await waitFor('rejections counted', async () => {
      const st = await t.client.status();
      const total = Object.values(st.rejected).reduce((a, b) => a + b, 0);
      return total >= 4 * 5 ? st : undefined;
    });
    expect(after.rejected.invalid_json).toBeGreaterThan(0);
    expect(after.rejected.payload_too_large).toBeGreaterThan(0);
    for (const w of after.workers) {
      expect(isAlive(w.pid ?? -1)).toBe(true);
      expect(w.state).toBe('ready');
    }
    const ok = await t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 100 } });
    expect(ok.session).toBeTruthy();
  });
});
