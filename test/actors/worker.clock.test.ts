import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { admissionRefusal, type WorkerEmitted, workerMachine } from '../../src/actors/worker.machine.ts';
import { flush } from './model-support.ts';

const welcome = { version: 1, agents: [{ name: 'dental', module: './agents/dental.ts' }], heartbeatMs: 1000 };

function start(
  opts: {
    capacity?: number;
    register?: () => Promise<typeof welcome>;
    prewarm?: () => Promise<{ ms: number }>;
  } = {},
) {
  const clock = new SimulatedClock();
  const cancelled: string[][] = [];
  const machine = workerMachine.provide({
    actors: {
      register: fromPromise(opts.register ?? (async () => welcome)),
      prewarm: fromPromise(opts.prewarm ?? (async () => ({ ms: 61 }))),
    },
    actions: { cancelSessions: (_, params) => void cancelled.push(params.sessionIds) },
  });
  const actor = createActor(machine, {
    input: { workerId: 'w1', capacity: opts.capacity ?? 2, drainTimeoutMs: 10_000, drainGraceMs: 2_000 },
    clock,
  });
  const emitted: WorkerEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const state = () => actor.getSnapshot().context.state;
  const refusals = () => emitted.flatMap((e) => (e.type === 'session.refused' ? [e.error.code] : []));
  return { actor, clock, cancelled, emitted, state, refusals };
}

async function ready(opts: Parameters<typeof start>[0] = {}) {
  const w = start(opts);
  w.actor.send({ type: 'STARTED' });
  await flush();
  expect(w.state()).toBe('ready');
  return w;
}

describe('worker startup', () => {
  it('registers, prewarms once, and is ready with the welcome data', async () => {
    const w = await ready();
    const { context } = w.actor.getSnapshot();
    expect(context).toMatchObject({ version: 1, heartbeatMs: 1000, prewarmMs: 61, agents: welcome.agents });
    const path = w.emitted.flatMap((e) => (e.type === 'worker.transition' ? [`${e.seq}:${e.to}`] : []));
    expect(path).toEqual(['1:starting', '2:registering', '3:prewarming', '4:ready']);
  });

  it('a refused hello fails the worker with the reason', async () => {
    const w = start({
      register: () =>
        Promise.reject({
          code: 'version_incompatible',
          message: 'supervisor speaks protocol 2..3, worker 1..1',
        }),
    });
    w.actor.send({ type: 'STARTED' });
    await flush();
    expect(w.actor.getSnapshot().status).toBe('done');
    expect(w.actor.getSnapshot().context.failure).toEqual({
      phase: 'register',
      code: 'version_incompatible',
      message: 'registration refused: supervisor speaks protocol 2..3, worker 1..1',
    });
    expect(w.emitted.at(-1)).toMatchObject({ to: 'failed', failure: { code: 'version_incompatible' } });
  });

  it('a failed prewarm fails the worker and says so', async () => {
    const w = start({ prewarm: () => Promise.reject(new Error('silero model missing')) });
    w.actor.send({ type: 'STARTED' });
    await flush();
    expect(w.actor.getSnapshot().output).toMatchObject({
      state: 'failed',
      failure: { phase: 'prewarm', code: 'prewarm_failed', message: 'prewarm failed: silero model missing' },
    });
  });

  it('refuses sessions before it is ready', async () => {
    const w = start();
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    expect(w.refusals()).toEqual(['no_capacity']);
    expect(w.actor.getSnapshot().context.sessions).toEqual([]);
  });
});

describe('worker capacity', () => {
  it('turns full at capacity and ready again below it', async () => {
    const w = await ready({ capacity: 2 });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    expect(w.state()).toBe('ready');
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's2' });
    expect(w.state()).toBe('full');
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's3' });
    expect(w.refusals()).toEqual(['no_capacity']);
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 'unknown' });
    expect(w.state()).toBe('full');
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 's1' });
    expect(w.state()).toBe('ready');
    expect(w.actor.getSnapshot().context.sessions).toEqual(['s2']);
    const admitted = w.emitted.filter((e) => e.type === 'session.admitted');
    expect(admitted).toEqual([
      { type: 'session.admitted', workerId: 'w1', sessionId: 's1', active: 1, capacity: 2 },
      { type: 'session.admitted', workerId: 'w1', sessionId: 's2', active: 2, capacity: 2 },
    ]);
  });

  it('refuses a session id it already hosts', async () => {
    const w = await ready({ capacity: 3 });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    expect(w.refusals()).toEqual(['duplicate_session']);
    expect(w.actor.getSnapshot().context.sessions).toEqual(['s1']);
  });

  it('admissionRefusal answers from a snapshot as the machine does', async () => {
    const w = await ready({ capacity: 1 });
    const { context } = w.actor.getSnapshot();
    expect(admissionRefusal(context.state, context, 's1')).toBeNull();
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    const full = w.actor.getSnapshot().context;
    expect(admissionRefusal(full.state, full, 's2')?.code).toBe('no_capacity');
  });
});

describe('worker drain (simulated clock)', () => {
  it('an idle worker stops at once', async () => {
    const w = await ready();
    w.actor.send({ type: 'DRAIN' });
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped', sessions: [] });
  });

  it('refuses new sessions and stops when the last one finishes', async () => {
    const w = await ready();
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's2' });
    w.actor.send({ type: 'DRAIN', timeoutMs: 5000 });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's3' });
    expect(w.refusals()).toEqual(['draining']);
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 's1' });
    expect(w.state()).toBe('draining');
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 's2' });
    expect(w.state()).toBe('stopped');
    w.clock.increment(60_000);
    expect(w.cancelled).toEqual([]);
  });

  it('cancels the remaining sessions at the drain timeout, then stops when they finish', async () => {
    const w = await ready();
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's2' });
    w.actor.send({ type: 'DRAIN', timeoutMs: 5000 });
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 's1' });
    w.clock.increment(4999);
    expect(w.cancelled).toEqual([]);
    w.clock.increment(1);
    expect(w.cancelled).toEqual([['s2']]);
    expect(w.actor.getSnapshot().value).toEqual({ draining: 'cancelling' });
    w.actor.send({ type: 'SESSION_FINISHED', sessionId: 's2' });
    expect(w.state()).toBe('stopped');
  });

  it('stops after the grace even if cancelled sessions never finish', async () => {
    const w = await ready();
    w.actor.send({ type: 'SESSION_ADMIT', sessionId: 's1' });
    w.actor.send({ type: 'DRAIN' });
    w.clock.increment(10_000);
    expect(w.cancelled).toEqual([['s1']]);
    w.clock.increment(1_999);
    expect(w.state()).toBe('draining');
    w.clock.increment(1);
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped', sessions: ['s1'] });
  });

  it('SHUTDOWN stops from any state', async () => {
    const w = start();
    w.actor.send({ type: 'SHUTDOWN' });
    expect(w.state()).toBe('stopped');
  });
});
