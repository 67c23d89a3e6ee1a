import { connect, type NatsConnection } from '@nats-io/transport-node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/protocol/index.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { isAlive, waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();
// npm test floods 10,000; npm run test:faults (also in CI) floods the full 100,000.
const TOTAL = Number(process.env.OPENRTC_FUZZ_MESSAGES ?? 10_000);
/**
 * A hang-catcher, not a speed check: it grows with the flood (`npm run test:faults` sends 100,000).
 * The supervisor decodes every message in this process, so its pace is the machine's: 100,000 took
 * over 180 s beside another fault file and a benchmark on two shared cores.
 */
const FLOOD_BOUND_MS = Math.max(180_000, 120_000 + TOTAL * 4);

/** Two huge strings, built once: over and under the 512 KiB payload limit. */
const HUGE = [700_000, 300_000].map((n) =>
  JSON.stringify({ v: 1, id: 'x', ts: 1, from: 'x', type: 'status', pad: 'x'.repeat(n) }),
);

/** Adversarial payloads: garbage, deep nesting, huge strings, wrong field types, replays, unknown versions. */
function payloads(workers: { id: string; epoch: string }[]): fc.Arbitrary<string> {
  const worker = fc.constantFrom(...workers);
  const envelope = (type: string) =>
    fc.record({
      v: fc.constant(1),
      id: fc.uuid(),
      ts: fc.nat(),
      from: fc.string({ maxLength: 20 }),
      type: fc.constant(type),
    });
  const types = fc.constantFrom(
    'heartbeat',
    'session.state',
    'session.ended',
    'dispatch',
    'status',
    'hello',
    'session.start',
    'drain',
    'shutdown',
    'welcome',
    'x',
  );
  return fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.nat({ max: 3000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.nat({ max: 2000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    fc.constantFrom(...HUGE),
    // Valid envelopes with wrong field types.
    fc
      .tuple(
        types,
        fc.dictionary(
          fc.constantFrom('session', 'worker', 'seq', 'state', 'agent', 'epoch', 'sessions', 'job'),
          fc.anything({ maxDepth: 2 }),
        ),
      )
      .chain(([type, body]) => envelope(type).map((e) => JSON.stringify({ ...e, ...body }))),
    // Replayed and out-of-order seqs, from real worker ids, with real and forged epochs.
    fc
      .tuple(worker, fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 50 }), fc.boolean())
      .map(([w, session, seq, forged]) =>
        JSON.stringify({
          v: 1,
          id: `f${seq}`,
          ts: 1,
          from: w.id,
          type: 'session.state',
          session: session.replace(/[^A-Za-z0-9]/g, 'x') || 's',
          worker: w.id,
          epoch: forged ? 'forged' : w.epoch,
          state: 'active',
          seq,
        }),
      ),
    // Unknown protocol versions.
    fc
      .integer({ min: 2, max: 1000 })
      .map((v) => JSON.stringify({ v, id: 'x', ts: 1, from: 'c', type: 'status' })),
  );
}

describe(`fuzzing every subject with ${TOTAL} adversarial messages`, () => {
  let t: TestPool;
  let raw: NatsConnection;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { capacity: 4, workerEnv: { OPENRTC_LOG_LEVEL: 'error' } });
    await readyWorkers(t.client, 2);
    raw = await connect({ servers: nats.url });
  }, 60_000);
  afterAll(async () => {
    await raw?.close();
    await t?.stop();
  });

  it(
    'nothing crashes, memory stays bounded, every rejection is counted by reason, and the pool still serves',
    async () => {
      const s = subjects(t.pool.pool);
      const before = await t.client.status();
      const workers = before.workers.map((w) => ({
        id: w.worker,
        epoch: w.epoch ?? 'none',
        pid: w.pid ?? -1,
      }));
      const targets = [
        s.dispatch,
        s.status,
        s.broadcast,
        ...workers.flatMap((w) => [s.hello(w.id), s.events(w.id), s.workerCmd(w.id), s.inspect(w.id)]),
      ];
      const sample = fc.sample(payloads(workers), { numRuns: 5000, seed: 42 });
      // The supervisor runs in this process: its heap before and after the flood.
      const heapBefore = process.memoryUsage().heapUsed;
      const started = Date.now();
      for (let i = 0; i < TOTAL; i++) {
        raw.publish(targets[i % targets.length] as string, sample[i % sample.length] as string);
        if (i % 2000 === 1999) await raw.flush();
      }
      await raw.flush();
      const floodMs = Date.now() - started;

      const after = await waitFor(
        'the pool answers and counted the flood',
        async () => {
          const st = await t.client.status(2000);
          const counted = Object.values(st.rejected).reduce((a, b) => a + b, 0);
          return counted > TOTAL / 4 ? st : undefined;
        },
        60_000,
        250,
      );
      for (const w of workers) expect(isAlive(w.pid)).toBe(true);
      for (const w of after.workers) expect(w.state).toBe('ready');
      for (const reason of [
        'invalid_json',
        'invalid_fields',
        'payload_too_large',
        'unsupported_version',
        'wrong_subject',
      ]) {
        expect(after.rejected[reason], reason).toBeGreaterThan(0);
      }
      const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1048576;
      const workerRssMb = Math.max(...after.workers.map((w) => w.rssBytes / 1048576));
      expect(heapGrowthMb).toBeLessThan(150);
      expect(workerRssMb).toBeLessThan(600);
      const ok = await t.client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 100 } });
      expect(ok.session).toBeTruthy();
      recordFigure('fuzz', {
        messages: TOTAL,
        flood_ms: floodMs,
        rejected_total: Object.values(after.rejected).reduce((a, b) => a + b, 0),
        supervisor_heap_growth_mb: Math.round(heapGrowthMb),
        count_ms: Date.now() - started,
        worker_rss_max_mb: Math.round(workerRssMb),
        rejected: JSON.stringify(after.rejected),
      });
    },
    FLOOD_BOUND_MS,
  );
});
