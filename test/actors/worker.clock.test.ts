import { describe, expect, it } from 'vitest';
import {
  type AnyActorRef,
  createActor,
  type EventObject,
  fromCallback,
  fromPromise,
  SimulatedClock,
} from 'xstate';
import { sessionMachine } from '../../src/actors/session.machine.ts';
import type { SessionInput, SessionTransition } from '../../src/actors/session.types.ts';
import {
  admissionRefusal,
  REGISTER_BACKOFF,
  type RegisterError,
  type SessionRequest,
  type WorkerEmitted,
  workerMachine,
} from '../../src/actors/worker.machine.ts';
import { flush } from './model-support.ts';

const welcome = {
  version: 1,
  agents: [{ name: 'dental', module: './agents/dental.ts' }],
  heartbeatMs: 1000,
  supervisor: 'supervisor',
};
const unreachable: RegisterError = { code: 'no_responders', message: 'no one is listening', retryable: true };

const request = (session: string, agent = 'dental'): SessionRequest => ({
  session,
  agent,
  job: { id: `j-${session}`, room: `room-${session}` },
  transport: { kind: 'local', input: { kind: 'silence', durationMs: 100 }, output: { kind: 'discard' } },
});

/** A session child that only records what it is told. */
function recordingSessions() {
  const told: Record<string, string[]> = {};
  const logic = fromCallback<EventObject & { reason?: string }, SessionInput>(({ input, receive }) => {
    receive((e) => {
      told[input.sessionId] = [...(told[input.sessionId] ?? []), `${e.type}:${e.reason ?? ''}`];
    });
  });
  return { told, logic: logic as unknown as typeof sessionMachine };
}

/** Real session machines whose phases succeed at once: they stay active until cancelled or ended. */
const liveSessions = sessionMachine.provide({
  actors: {
    prewarm: fromPromise(async () => {}),
    connect: fromPromise(async () => {}),
    greet: fromPromise(async () => {}),
    close: fromPromise(async () => {}),
  },
});

function start(
  opts: {
    capacity?: number;
    register?: () => Promise<typeof welcome>;
    prewarm?: () => Promise<{ ms: number }>;
    sessions?: 'recording' | 'live';
  } = {},
) {
  const clock = new SimulatedClock();
  const recording = recordingSessions();
  const registerCalls: number[] = [];
  const machine = workerMachine.provide({
    actors: {
      register: fromPromise(({ input }) => {
        registerCalls.push(input.attempt);
        return (opts.register ?? (async () => welcome))();
      }),
      prewarm: fromPromise(opts.prewarm ?? (async () => ({ ms: 61 }))),
      session: opts.sessions === 'live' ? liveSessions : recording.logic,
    },
  });
  const actor = createActor(machine, {
    input: { workerId: 'w1', capacity: opts.capacity ?? 2, drainTimeoutMs: 10_000, drainGraceMs: 2_000 },
    clock,
    // What the runtime does with a session actor's last transition: it tells the worker, with the time.
    inspect: (ev) => {
      if (ev.type !== '@xstate.actor') return;
      const ref = ev.actorRef as AnyActorRef;
      if (ref.src !== 'session') return;
      ref.on('session.transition', (t: SessionTransition) => {
        if (t.to === 'closed' || t.to === 'failed' || t.to === 'cancelled')
          actor.send({
            type: 'SESSION_ENDED',
            sessionId: t.sessionId,
            state: t.to,
            seq: t.seq,
            now: clock.now(),
          });
      });
    },
  });
  const emitted: WorkerEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const state = () => actor.getSnapshot().context.state;
  const refusals = () => emitted.flatMap((e) => (e.type === 'session.refused' ? [e.error.code] : []));
  const beats = () => emitted.filter((e) => e.type === 'worker.heartbeat').length;
  const hosted = () => actor.getSnapshot().context.sessions.map((s) => s.session);
  const admit = (session: string, agent?: string) =>
    actor.send({ type: 'SESSION_ADMIT', request: request(session, agent), now: clock.now() });
  const end = (sessionId: string) =>
    actor.send({ type: 'SESSION_ENDED', sessionId, state: 'closed', seq: 6, now: clock.now() });
  return {
    actor,
    clock,
    told: recording.told,
    registerCalls,
    emitted,
    state,
    refusals,
    beats,
    hosted,
    admit,
    end,
  };
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
    expect(context).toMatchObject({
      version: 1,
      heartbeatMs: 1000,
      prewarmMs: 61,
      agents: welcome.agents,
      supervisor: 'supervisor',
    });
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
    expect(w.registerCalls).toEqual([1]);
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
    w.admit('s1');
    expect(w.refusals()).toEqual(['no_capacity']);
    expect(w.hosted()).toEqual([]);
  });
});

describe('worker registration (simulated clock)', () => {
  it('while no supervisor answers, says hello again after a growing delay, then registers', async () => {
    let unanswered = 4;
    const w = start({ register: async () => (unanswered-- > 0 ? Promise.reject(unreachable) : welcome) });
    w.actor.send({ type: 'STARTED' });
    const delays: number[] = [];
    for (let hello = 1; hello <= 4; hello++) {
      await flush();
      expect(w.registerCalls).toHaveLength(hello);
      const retry = w.emitted.at(-1);
      if (retry?.type !== 'worker.register_retry') throw new Error(`no retry after hello ${hello}`);
      expect(retry).toMatchObject({ attempt: hello, error: { code: 'no_responders' } });
      expect(w.actor.getSnapshot().value).toEqual({ registering: 'waiting' });
      delays.push(retry.delayMs);
      // Nothing happens before the delay is over, and the next hello goes out when it is.
      w.clock.increment(retry.delayMs - 1);
      await flush();
      expect(w.registerCalls).toHaveLength(hello);
      w.clock.increment(1);
    }
    await flush();
    expect(w.registerCalls).toEqual([1, 2, 3, 4, 5]);
    expect(w.state()).toBe('ready');
    // Exponential with jitter: each delay at least the one before, within [d/2, d] of 100·2^(n−1).
    delays.forEach((d, i) => {
      const full = REGISTER_BACKOFF.initialMs * 2 ** i;
      expect(d).toBeGreaterThanOrEqual(full / 2);
      expect(d).toBeLessThanOrEqual(full);
    });
    expect([...delays].sort((a, b) => a - b)).toEqual(delays);
    // The worker went through registering once: retries are not transitions of the protocol state.
    const path = w.emitted.flatMap((e) => (e.type === 'worker.transition' ? [e.to] : []));
    expect(path).toEqual(['starting', 'registering', 'prewarming', 'ready']);
  });

  it('the delay between hellos stops growing at 2 s', async () => {
    const w = start({ register: () => Promise.reject(unreachable) });
    w.actor.send({ type: 'STARTED' });
    for (let i = 0; i < 12; i++) {
      await flush();
      w.clock.increment(w.actor.getSnapshot().context.registration.delayMs);
    }
    await flush();
    const delays = w.emitted.flatMap((e) => (e.type === 'worker.register_retry' ? [e.delayMs] : []));
    expect(delays.length).toBeGreaterThanOrEqual(12);
    expect(Math.max(...delays)).toBeLessThanOrEqual(REGISTER_BACKOFF.maxMs);
    expect(delays.at(-1)).toBeGreaterThanOrEqual(REGISTER_BACKOFF.maxMs / 2);
  });

  it('a drain while waiting for a supervisor stops the worker', async () => {
    const w = start({ register: () => Promise.reject(unreachable) });
    w.actor.send({ type: 'STARTED' });
    await flush();
    w.actor.send({ type: 'DRAIN' });
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped' });
    w.clock.increment(10_000);
    await flush();
    expect(w.registerCalls).toEqual([1]);
  });
});

describe('worker heartbeat (simulated clock)', () => {
  it('beats from the welcome on, every heartbeatMs, and never before it is registered', async () => {
    const w = start({ register: () => Promise.reject(unreachable) });
    w.actor.send({ type: 'STARTED' });
    await flush();
    w.clock.increment(5_000);
    await flush();
    expect(w.beats()).toBe(0);
    const r = await ready();
    expect(r.beats()).toBe(1);
    r.clock.increment(999);
    expect(r.beats()).toBe(1);
    r.clock.increment(1);
    expect(r.beats()).toBe(2);
    // The simulated clock fires a timer once per increment: one beat per second, three seconds.
    for (let i = 0; i < 3; i++) r.clock.increment(1_000);
    expect(r.beats()).toBe(5);
  });

  it('stops when the worker leaves the registered states: drained', async () => {
    const w = await ready();
    w.clock.increment(1_000);
    w.clock.increment(1_000);
    expect(w.beats()).toBe(3);
    w.actor.send({ type: 'DRAIN' });
    expect(w.state()).toBe('stopped');
    expect(w.actor.getSnapshot().children.heartbeat).toBeUndefined();
    for (let i = 0; i < 60; i++) w.clock.increment(1_000);
    expect(w.beats()).toBe(3);
  });

  it('stops when the worker leaves the registered states: prewarm failed', async () => {
    let failPrewarm: (e: Error) => void = () => {};
    const w = start({ prewarm: () => new Promise((_, reject) => (failPrewarm = reject)) });
    w.actor.send({ type: 'STARTED' });
    await flush();
    expect(w.state()).toBe('prewarming');
    w.clock.increment(1_000);
    expect(w.beats()).toBe(2);
    failPrewarm(new Error('onnx model missing'));
    await flush();
    expect(w.state()).toBe('failed');
    for (let i = 0; i < 60; i++) w.clock.increment(1_000);
    expect(w.beats()).toBe(2);
  });

  it('beats at once when the NATS link comes back, repeating the ends since it went down', async () => {
    const w = await ready();
    w.clock.increment(500);
    w.actor.send({ type: 'LINK', up: false, now: 500 });
    w.actor.send({ type: 'LINK', up: false, now: 700 });
    expect(w.beats()).toBe(1);
    w.actor.send({ type: 'LINK', up: true, now: 9_000 });
    expect(w.emitted.filter((e) => e.type === 'worker.heartbeat').map((e) => e.endsSince)).toEqual([
      null,
      500,
    ]);
    w.clock.increment(500);
    expect(w.emitted.at(-1)).toMatchObject({ type: 'worker.heartbeat', endsSince: null });
  });
});

describe('worker capacity', () => {
  it('turns full at capacity and ready again below it', async () => {
    const w = await ready({ capacity: 2 });
    w.admit('s1');
    expect(w.state()).toBe('ready');
    w.admit('s2');
    expect(w.state()).toBe('full');
    w.admit('s3');
    expect(w.refusals()).toEqual(['no_capacity']);
    w.end('unknown');
    expect(w.state()).toBe('full');
    w.end('s1');
    expect(w.state()).toBe('ready');
    expect(w.hosted()).toEqual(['s2']);
    const admitted = w.emitted.filter((e) => e.type === 'session.admitted');
    expect(admitted).toEqual([
      { type: 'session.admitted', workerId: 'w1', sessionId: 's1', active: 1, capacity: 2 },
      { type: 'session.admitted', workerId: 'w1', sessionId: 's2', active: 2, capacity: 2 },
    ]);
  });

  it('each admitted session is a child actor named by its id, stopped when it ends', async () => {
    const w = await ready({ capacity: 3 });
    w.admit('s1');
    w.admit('s2');
    expect(Object.keys(w.actor.getSnapshot().children).sort()).toEqual(['heartbeat', 's1', 's2']);
    w.end('s1');
    expect(Object.keys(w.actor.getSnapshot().children).sort()).toEqual(['heartbeat', 's2']);
  });

  it('refuses a session id it already hosts, and an agent it does not know', async () => {
    const w = await ready({ capacity: 3 });
    w.admit('s1');
    w.admit('s1');
    w.admit('s2', 'billing');
    expect(w.refusals()).toEqual(['duplicate_session', 'unknown_agent']);
    expect(w.hosted()).toEqual(['s1']);
  });

  it('admissionRefusal answers from a snapshot as the machine does', async () => {
    const w = await ready({ capacity: 1 });
    const { context } = w.actor.getSnapshot();
    expect(admissionRefusal(context.state, context, { session: 's1', agent: 'dental' })).toBeNull();
    w.admit('s1');
    const full = w.actor.getSnapshot().context;
    expect(admissionRefusal(full.state, full, { session: 's2', agent: 'dental' })?.code).toBe('no_capacity');
  });

  it('SESSION_CANCEL reaches the session actor', async () => {
    const w = await ready();
    w.admit('s1');
    w.actor.send({ type: 'SESSION_CANCEL', sessionId: 's1', reason: 'caller hung up' });
    w.actor.send({ type: 'SESSION_CANCEL', sessionId: 'nope' });
    expect(w.told).toEqual({ s1: ['CANCEL:caller hung up'] });
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
    w.admit('s1');
    w.admit('s2');
    w.actor.send({ type: 'DRAIN', timeoutMs: 5000 });
    w.admit('s3');
    expect(w.refusals()).toEqual(['draining']);
    w.end('s1');
    expect(w.state()).toBe('draining');
    w.end('s2');
    expect(w.state()).toBe('stopped');
    w.clock.increment(60_000);
    expect(w.told).toEqual({});
  });

  it('cancels the remaining sessions at the drain timeout, then stops when they finish', async () => {
    const w = await ready();
    w.admit('s1');
    w.admit('s2');
    w.actor.send({ type: 'DRAIN', timeoutMs: 5000 });
    w.end('s1');
    w.clock.increment(4999);
    expect(w.told).toEqual({});
    w.clock.increment(1);
    expect(w.told).toEqual({ s2: ['CANCEL:drain timeout'] });
    expect(w.actor.getSnapshot().value).toEqual({ draining: 'cancelling' });
    w.end('s2');
    expect(w.state()).toBe('stopped');
  });

  it('stops after the grace even if cancelled sessions never finish', async () => {
    const w = await ready();
    w.admit('s1');
    w.actor.send({ type: 'DRAIN' });
    w.clock.increment(10_000);
    expect(w.told).toEqual({ s1: ['CANCEL:drain timeout'] });
    w.clock.increment(1_999);
    expect(w.state()).toBe('draining');
    w.clock.increment(1);
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped', sessions: ['s1'] });
  });
});

describe('worker shutdown', () => {
  it('SHUTDOWN stops an idle worker from any state', async () => {
    const w = start();
    w.actor.send({ type: 'SHUTDOWN' });
    expect(w.state()).toBe('stopped');
    const r = await ready();
    r.actor.send({ type: 'SHUTDOWN', reason: 'fenced' });
    expect(r.state()).toBe('stopped');
  });

  it('SHUTDOWN cancels every session child; each closes, reports its end, and the worker stops', async () => {
    const w = await ready({ capacity: 3, sessions: 'live' });
    w.admit('s1');
    w.admit('s2');
    w.admit('s3');
    await flush();
    const children = ['s1', 's2', 's3'].map((id) => w.actor.getSnapshot().children[id] as AnyActorRef);
    expect(children.map((c) => c.getSnapshot().value)).toEqual(['active', 'active', 'active']);
    w.actor.send({ type: 'SHUTDOWN', reason: 'fenced' });
    expect(w.state()).toBe('draining');
    await flush();
    expect(children.map((c) => c.getSnapshot().output)).toMatchObject([
      { state: 'cancelled' },
      { state: 'cancelled' },
      { state: 'cancelled' },
    ]);
    expect(children[0]?.getSnapshot().context.cancelReason).toBe('shutdown: fenced');
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped', sessions: [] });
    const ended = w.emitted.flatMap((e) => (e.type === 'session.ended' ? [e.ended] : []));
    expect(ended.map((e) => `${e.session}:${e.outcome}`)).toEqual([
      's1:cancelled',
      's2:cancelled',
      's3:cancelled',
    ]);
    expect(w.actor.getSnapshot().context.ended.map((e) => e.session)).toEqual(['s1', 's2', 's3']);
  });

  it('SHUTDOWN while draining cancels at once and stops after the grace', async () => {
    const w = await ready();
    w.admit('s1');
    w.actor.send({ type: 'DRAIN', timeoutMs: 60_000 });
    w.actor.send({ type: 'SHUTDOWN', reason: 'fenced' });
    expect(w.told).toEqual({ s1: ['CANCEL:shutdown: fenced'] });
    w.clock.increment(2_000);
    expect(w.actor.getSnapshot().output).toMatchObject({ state: 'stopped', sessions: ['s1'] });
  });
});
