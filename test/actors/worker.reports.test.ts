import { describe, expect, it } from 'vitest';
import { createActor, type EventObject, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import type { sessionMachine } from '../../src/actors/session.machine.ts';
import {
  ENDED_KEEP_MS,
  existingSession,
  heartbeatBody,
  helloBody,
  type SessionRequest,
  type WorkerSnapshotView,
  workerMachine,
} from '../../src/actors/worker.machine.ts';
import { flush } from './model-support.ts';

const welcome = { version: 1, agents: [{ name: 'dental', module: './agents/dental.ts' }], heartbeatMs: 1000 };
const request = (session: string): SessionRequest => ({
  session,
  agent: 'dental',
  job: { id: `j-${session}`, room: 'dental-1' },
  transport: { kind: 'local', input: { kind: 'silence', durationMs: 100 }, output: { kind: 'discard' } },
});
/** A session actor that stays in `active` as far as the reports can tell. */
const activeSession = fromCallback<EventObject>(() => {});

async function worker(endedLimit?: number) {
  const clock = new SimulatedClock();
  const machine = workerMachine.provide({
    actors: {
      register: fromPromise(async () => welcome),
      prewarm: fromPromise(async () => ({ ms: 61 })),
      session: activeSession as unknown as typeof sessionMachine,
    },
  });
  const actor = createActor(machine, {
    input: {
      workerId: 'w1',
      epoch: 'e1',
      capacity: 50,
      drainTimeoutMs: 1000,
      ...(endedLimit ? { endedLimit } : {}),
    },
    clock,
  });
  actor.start();
  actor.send({ type: 'STARTED' });
  await flush();
  const view = (): WorkerSnapshotView => {
    const { context, children } = actor.getSnapshot();
    return { context, children: children as WorkerSnapshotView['children'] };
  };
  const admit = (id: string, now: number) => actor.send({ type: 'SESSION_ADMIT', request: request(id), now });
  const end = (id: string, now: number, failed = false) =>
    actor.send({
      type: 'SESSION_ENDED',
      sessionId: id,
      state: failed ? 'failed' : 'closed',
      seq: 6,
      now,
      ...(failed ? { failure: { phase: 'connect', code: 'connect_failed', message: 'x'.repeat(500) } } : {}),
    });
  return { actor, view, admit, end };
}

describe('what a worker reports', () => {
  it('a heartbeat lists every hosted session and the ends of the last five beats', async () => {
    const w = await worker();
    for (const [i, id] of ['s1', 's2', 's3'].entries()) w.admit(id, 1000 + i);
    w.end('s1', 2_000);
    w.end('s2', 9_000, true);
    const beat = heartbeatBody(w.view(), { now: 10_000, rssBytes: 1, vadLoads: 1, endsSince: null });
    expect(beat).toMatchObject({ worker: 'w1', epoch: 'e1', state: 'ready', active: 1, capacity: 50 });
    expect(beat.prewarm).toEqual({ status: 'ok', ms: 61, vadLoads: 1 });
    expect(beat.sessions).toEqual([
      { session: 's3', agent: 'dental', state: 'prewarming', seq: 1, since: 1002, jobId: 'j-s3' },
    ]);
    // s1 ended 8 s ago: older than five 1 s beats, so only s2 is repeated.
    expect(beat.ended?.map((e) => e.session)).toEqual(['s2']);
    expect(beat.ended?.[0]).toMatchObject({ outcome: 'failed', phase: 'connect', endedAt: 9_000 });
    expect(beat.ended?.[0]?.error?.message).toHaveLength(200);
    // After an outage since t=1500, the first beat repeats everything that ended since.
    const after = heartbeatBody(w.view(), { now: 10_000, rssBytes: 1, endsSince: 1_500 });
    expect(after.ended?.map((e) => e.session)).toEqual(['s1', 's2']);
  });

  it('a hello carries the whole record, the last endedLimit sessions, none older than 10 minutes', async () => {
    const w = await worker(3);
    for (let i = 1; i <= 5; i++) {
      w.admit(`s${i}`, i);
      w.end(`s${i}`, i * 1000);
    }
    expect(w.actor.getSnapshot().context.ended.map((e) => e.session)).toEqual(['s3', 's4', 's5']);
    const hello = helloBody(w.view(), { pid: 7, host: 'h', now: 6_000 });
    expect(hello).toMatchObject({ worker: 'w1', epoch: 'e1', pid: 7, host: 'h', sessions: [] });
    expect(hello.ended?.map((e) => e.session)).toEqual(['s3', 's4', 's5']);
    const later = helloBody(w.view(), { pid: 7, host: 'h', now: 4_000 + ENDED_KEEP_MS });
    expect(later.ended?.map((e) => e.session)).toEqual(['s4', 's5']);
    // A new end trims the record by age as well as by count.
    w.admit('s6', 1);
    w.end('s6', 5_000 + ENDED_KEEP_MS);
    expect(w.actor.getSnapshot().context.ended.map((e) => e.session)).toEqual(['s5', 's6']);
  });

  it('a repeated session.start is answered from the snapshot: live state, or the recorded outcome', async () => {
    const w = await worker();
    w.admit('s1', 1);
    w.admit('s2', 2);
    w.end('s2', 3, true);
    expect(existingSession(w.view(), 's1')).toEqual({ state: 'prewarming' });
    expect(existingSession(w.view(), 's2')).toEqual({ outcome: 'failed' });
    expect(existingSession(w.view(), 's3')).toBeNull();
  });
});
