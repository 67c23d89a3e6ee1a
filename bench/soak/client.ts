/**
 * The soak bench's client, a process of its own so its bookkeeping is not counted in the
 * supervisor's heap. On each `{ churn: k }` from the parent it runs k sessions through the pool,
 * `inFlight` at a time (dispatch, wait for `active`, cancel, wait for the final state), forgets
 * them, and answers `{ done, ok, failed, ms }`.
 *
 *   client.ts <nats url> <pool> <in flight>
 */
import { randomUUID } from 'node:crypto';
import { FINAL_SESSION_STATES } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import { InspectWatch } from '../lib/pool.ts';
import { poolLog } from '../lib/report.ts';

export interface ChurnResult {
  done: number;
  ok: number;
  failed: number;
  ms: number;
}

const [url, pool, inFlight] = process.argv.slice(2) as [string, string, string];
const INPUT = { kind: 'silence' as const, durationMs: 200 };
const client = await PoolClient.connect({ url, pool, log: poolLog({ role: 'client' }), id: 'soak-client' });
const watch = new InspectWatch(client);

const final = (session: string) => FINAL_SESSION_STATES.find((s) => watch.state(session, s));

/** One session from dispatch to its final state; true when it was active before it ended. */
async function one(i: number): Promise<boolean> {
  const room = `${i % 2 ? 'dental' : 'restaurant'}-${randomUUID().slice(0, 8)}`;
  const placed = await client.dispatch({ job: { room }, audio: INPUT });
  await watch.until(
    `session ${placed.session} active`,
    () => watch.state(placed.session, 'active') ?? final(placed.session),
    30_000,
  );
  const wasActive = Boolean(watch.state(placed.session, 'active'));
  await client.bus
    .request(
      client.subjects.workerCmd(placed.worker),
      client.bus.make('session.cancel', { session: placed.session, reason: 'soak' }),
      5000,
    )
    .catch(() => {});
  await watch.until(`session ${placed.session} ended`, () => final(placed.session), 30_000);
  const room2 = watch.sessions.get(placed.session)?.room;
  watch.sessions.delete(placed.session);
  if (room2) watch.byRoom.delete(room2);
  return wasActive;
}

let counter = 0;
async function churn(k: number): Promise<ChurnResult> {
  const t0 = performance.now();
  let next = 0;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Number(inFlight) }, async () => {
      while (next < k) {
        next += 1;
        if (await one(counter++).catch(() => false)) ok += 1;
        else failed += 1;
      }
    }),
  );
  // Inspect events of the ended sessions arriving late would re-create entries: drop them too.
  watch.sessions.clear();
  watch.byRoom.clear();
  watch.workers.length = 0;
  return { done: ok + failed, ok, failed, ms: performance.now() - t0 };
}

process.on('message', (m: { churn?: number; stop?: boolean }) => {
  if (m.stop) {
    watch.stop();
    void client.close().then(() => process.exit(0));
    return;
  }
  if (typeof m.churn === 'number')
    void churn(m.churn).then((r) => {
      if (process.connected) process.send?.(r);
    });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
