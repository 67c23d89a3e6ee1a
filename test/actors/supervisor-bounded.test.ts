import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { Effect } from '../../src/actors/pool.ts';
import { reducePool, supervisorMachine } from '../../src/actors/supervisor.machine.ts';
import type { SupervisorContext, SupervisorEvent } from '../../src/actors/supervisor.types.ts';
import type { EndedSession } from '../../src/protocol/index.ts';
import { endedRecord, pool, REGISTRY, summary } from './supervisor-support.ts';

const size = (ctx: SupervisorContext) => JSON.stringify(ctx).length;

/**
 * The supervisor's pool reducer from the machine's own initial context (default endedLimit),
 * driven event by event as the machine's `apply` action does: the machine assigns exactly the
 * context this returns. Keeps no log of effects (N is large), only the last dispatch result.
 */
function reducer() {
  let ctx = createActor(supervisorMachine, {
    input: { pool: 'test', registry: REGISTRY, heartbeatMs: 1000 },
  }).getSnapshot().context;
  let effects: Effect[] = [];
  let now = 0;
  const send = (e: SupervisorEvent) => {
    ({ context: ctx, effects } = reducePool(ctx, e));
  };
  const heartbeat = (worker: string, epoch: string, ended: EndedSession[] = []) =>
    send({
      type: 'HEARTBEAT',
      now,
      worker,
      epoch,
      state: 'ready',
      active: 0,
      capacity: 50,
      rssBytes: 100_000_000,
      prewarm: { status: 'ok', ms: 61 },
      sessions: [],
      ...(ended.length > 0 ? { ended } : {}),
    });
  const api = {
    ctx: () => ctx,
    send,
    heartbeat,
    tick: (ms: number) => {
      now += ms;
      return now;
    },
    now: () => now,
    join(worker: string, epoch: string) {
      const versions = { min: 1, max: 1 };
      send({
        type: 'WORKER_HELLO',
        now,
        worker,
        epoch,
        pid: 4242,
        host: 'h',
        capacity: 50,
        versions,
        sessions: [],
      });
      heartbeat(worker, epoch);
    },
    dispatch(i: number) {
      send({
        type: 'DISPATCH',
        now,
        requestId: `r${i}`,
        sessionId: `s${i}`,
        job: { id: `job-${i}`, metadata: '{"agent":"dental"}' },
      });
      const r = effects.find((x) => x.kind === 'emit' && x.event.type === 'dispatch.result');
      if (r?.kind !== 'emit' || r.event.type !== 'dispatch.result' || !r.event.ok)
        throw new Error(`dispatch ${i}: ${JSON.stringify(r)}`);
      return r.event;
    },
  };
  return api;
}

describe('supervisor memory', () => {
  it('stays bounded over 10,000 dispatched and ended sessions: the context does not grow with N', () => {
    const p = reducer();
    p.join('w1', 'e1');
    p.join('w2', 'e2');
    const N = 10_000;
    const sizes: number[] = [];
    for (let i = 0; i < N; i++) {
      const r = p.dispatch(i);
      const epoch = r.worker === 'w1' ? 'e1' : 'e2';
      const report = { now: p.tick(10), session: r.session, worker: r.worker, epoch };
      p.send({ type: 'SESSION_STATE', ...report, state: 'active', seq: 4 });
      if (i % 10 === 0) {
        p.send({ type: 'SESSION_SPEECH', ...report, kind: 'start', atMs: 10, speechCount: 1 });
        // Its session.ended was lost: the worker's heartbeats carry its end, twice over.
        const ended = [endedRecord(r.session, 'success', 6, p.now())];
        p.heartbeat(r.worker, epoch, ended);
        p.heartbeat(r.worker, epoch, ended);
      } else {
        const failed = i % 7 === 0;
        p.send({
          type: 'SESSION_ENDED',
          ...report,
          seq: 6,
          outcome: failed ? 'failed' : 'success',
          ...(failed ? { error: { code: 'session_error' as const, message: 'x'.repeat(200) } } : {}),
        });
      }
      if (i % 1000 === 999) sizes.push(size(p.ctx()));
    }
    const ctx = p.ctx();
    // No live session is left; the record keeps the last endedLimit (default 500) with their outcomes.
    expect(Object.keys(ctx.sessions)).toHaveLength(0);
    expect(Object.keys(ctx.jobs)).toHaveLength(0);
    expect(ctx.ended).toHaveLength(ctx.endedLimit);
    expect(ctx.ended.at(-1)).toMatchObject({ session: 's9999', state: 'closed', reported: true });
    expect(ctx.ended.at(-4)).toMatchObject({
      session: 's9996',
      state: 'failed',
      error: { code: 'session_error' },
    });
    expect(ctx.ended.at(-10)).toMatchObject({
      session: 's9990',
      state: 'closed',
      speech: { start: 1, end: 0 },
    });
    expect(ctx.workers.w1?.active).toBe(0);
    // Independent of N: as large after 10,000 sessions as after 1,000, and under a fixed bound.
    const [first] = sizes;
    expect(Math.max(...sizes)).toBeLessThanOrEqual((first ?? 0) * 1.05);
    expect(size(ctx)).toBeLessThan(300_000);
  });

  it("a new supervisor taking in workers' whole records keeps only endedLimit of them", () => {
    const p = pool({ endedLimit: 500 });
    p.clock.set(1_000_000);
    for (const w of ['w1', 'w2', 'w3']) {
      p.hello(w, `e-${w}`, {
        sessions: [summary(`${w}-live`, 'active', 4)],
        ended: Array.from({ length: 1000 }, (_, i) =>
          endedRecord(`${w}-${i}`, 'success', 6, 1_000_000 - 10_000 + i),
        ),
      });
    }
    const ctx = p.ctx();
    expect(ctx.ended).toHaveLength(500);
    expect(Object.keys(ctx.sessions)).toHaveLength(3);
    expect(size(ctx)).toBeLessThan(300_000);
  });
});
