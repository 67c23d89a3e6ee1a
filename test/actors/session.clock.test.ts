import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  resolveLimits,
  type SessionEmitted,
  type SessionInput,
  sessionMachine,
} from '../../src/actors/session.machine.ts';
import type { SessionLimits } from '../../src/protocol/index.ts';
import { flush } from './model-support.ts';

const never = () => new Promise<never>(() => {});
type Behaviour = 'ok' | 'hang' | { fail: unknown };
type Plan = { prewarm?: Behaviour; connect?: Behaviour[]; greet?: Behaviour; close?: Behaviour };

function run(plan: Plan, limits: SessionLimits = {}, hasGreeting = true, seed = 1) {
  const clock = new SimulatedClock();
  const calls: string[] = [];
  const act = (name: string, b: Behaviour | undefined) => {
    calls.push(name);
    if (b === 'hang') return never();
    if (b && b !== 'ok') return Promise.reject(b.fail);
    return Promise.resolve();
  };
  let attempts = 0;
  const machine = sessionMachine.provide({
    actors: {
      prewarm: fromPromise(() => act('prewarm', plan.prewarm)),
      connect: fromPromise(({ input }) => act(`connect#${input.attempt}`, plan.connect?.[attempts++])),
      greet: fromPromise(() => act('greet', plan.greet)),
      close: fromPromise(({ input }) => act(`close:${input.reason}`, plan.close)),
    },
  });
  const input: SessionInput = {
    sessionId: 's1',
    agent: 'dental',
    worker: 'w1',
    limits: resolveLimits(limits),
    hasGreeting,
    seed,
  };
  const actor = createActor(machine, { input, clock });
  const emitted: SessionEmitted[] = [];
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  const advance = async (ms: number) => {
    clock.increment(ms);
    await flush();
  };
  const states = () => emitted.flatMap((e) => (e.type === 'session.transition' ? [e.to] : []));
  return { actor, calls, emitted, advance, states, snapshot: () => actor.getSnapshot() };
}

describe('session lifecycle', () => {
  it('a normal call: prewarm, connect, greet, active, then the transport ends', async () => {
    const s = run({});
    await flush();
    expect(s.snapshot().value).toBe('active');
    s.actor.send({ type: 'TRANSPORT_ENDED' });
    await flush();
    expect(s.states()).toEqual(['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed']);
    expect(s.calls).toEqual(['prewarm', 'connect#1', 'greet', 'close:ended']);
    const seqs = s.emitted.flatMap((e) => (e.type === 'session.transition' ? [e.seq] : []));
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.snapshot().output).toMatchObject({ state: 'closed', seq: 6, failure: null });
  });

  it('with no greeting configured, greeting is skipped', async () => {
    const s = run({}, {}, false);
    await flush();
    expect(s.states()).toEqual(['prewarming', 'connecting', 'active']);
    expect(s.calls).not.toContain('greet');
  });

  it('every transition names where it came from and why', async () => {
    const s = run({});
    await flush();
    expect(s.emitted[1]).toEqual({
      type: 'session.transition',
      sessionId: 's1',
      from: 'prewarming',
      to: 'connecting',
      seq: 2,
      event: 'xstate.done.actor.prewarm',
    });
  });
});

describe('session timeouts (simulated clock)', () => {
  it('prewarm times out after prewarmMs', async () => {
    const s = run({ prewarm: 'hang' }, { prewarmMs: 2000 });
    await s.advance(1999);
    expect(s.snapshot().value).toBe('prewarming');
    await s.advance(1);
    expect(s.snapshot().value).toBe('failed');
    expect(s.snapshot().context.failure).toEqual({
      phase: 'prewarm',
      code: 'prewarm_timeout',
      message: 'prewarm took longer than 2000 ms',
    });
    expect(s.calls).toContain('close:failed');
  });

  it('each connect attempt times out; the last one fails the session with connect_timeout', async () => {
    const s = run(
      { connect: ['hang', 'hang'] },
      { connectMs: 1000, connectAttempts: 2, connectBackoffMs: 100 },
    );
    await flush();
    await s.advance(1000);
    expect(s.snapshot().value).toEqual({ connecting: 'backoff' });
    await s.advance(s.snapshot().context.backoffMs);
    expect(s.snapshot().context.attempt).toBe(2);
    await s.advance(1000);
    expect(s.snapshot().value).toBe('failed');
    expect(s.snapshot().context.failure).toEqual({
      phase: 'connect',
      code: 'connect_timeout',
      message: 'connect attempt 2 of 2 timed out after 1000 ms',
    });
  });

  it('connect retries with growing backoff, then fails with the last error message', async () => {
    const err = (m: string) => ({ fail: new Error(m) });
    const s = run(
      { connect: [err('e1'), err('e2'), err('e3'), err('e4'), err('e5')] },
      { connectAttempts: 5, connectBackoffMs: 200 },
    );
    await flush();
    const delays: number[] = [];
    while (s.snapshot().status === 'active') {
      const { value, context } = s.snapshot();
      if (JSON.stringify(value) !== JSON.stringify({ connecting: 'backoff' })) break;
      delays.push(context.backoffMs);
      await s.advance(context.backoffMs - 1);
      expect(s.snapshot().value, 'the retry waits the whole backoff').toEqual({ connecting: 'backoff' });
      await s.advance(1);
    }
    expect(delays).toHaveLength(4);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1] as number);
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(200 * 2 ** i * 0.5);
      expect(d).toBeLessThanOrEqual(200 * 2 ** i);
    });
    const retries = s.emitted.filter((e) => e.type === 'session.retry');
    expect(retries.map((r) => (r.type === 'session.retry' ? r.delayMs : 0))).toEqual(delays);
    expect(s.snapshot().value).toBe('failed');
    expect(s.snapshot().context.failure).toEqual({ phase: 'connect', code: 'connect_failed', message: 'e5' });
  });

  it('the jitter is reproducible from the seed and differs between seeds', async () => {
    const delaysFor = async (seed: number) => {
      const s = run({ connect: [{ fail: 'x' }, 'hang'] }, { connectBackoffMs: 1000 }, true, seed);
      await flush();
      return s.snapshot().context.backoffMs;
    };
    expect(await delaysFor(1)).toBe(await delaysFor(1));
    const many = new Set(await Promise.all([1, 2, 3, 4, 5].map(delaysFor)));
    expect(many.size).toBeGreaterThan(1);
  });

  it('a greeting that times out is a warning and the call goes on', async () => {
    const s = run({ greet: 'hang' }, { greetMs: 3000 });
    await flush();
    await s.advance(3000);
    expect(s.snapshot().value).toBe('active');
    expect(s.snapshot().context.warnings).toEqual([
      { phase: 'greet', code: 'greet_timeout', message: 'greeting took longer than 3000 ms' },
    ]);
  });

  it('a required greeting that fails fails the session', async () => {
    const s = run(
      { greet: { fail: { code: 'session_error', message: 'tts down' } } },
      { greetingRequired: true },
    );
    await flush();
    expect(s.snapshot().value).toBe('failed');
    expect(s.snapshot().context.failure).toEqual({
      phase: 'greet',
      code: 'greet_failed',
      message: 'tts down',
    });
  });

  it('a required greeting that times out fails with greet_timeout', async () => {
    const s = run({ greet: 'hang' }, { greetingRequired: true, greetMs: 500 });
    await flush();
    await s.advance(500);
    expect(s.snapshot().context.failure?.code).toBe('greet_timeout');
  });

  it('a close that times out on a normal ending fails the session with close_timeout', async () => {
    const s = run({ close: 'hang' }, { closeMs: 700 });
    await flush();
    s.actor.send({ type: 'TRANSPORT_ENDED' });
    await s.advance(700);
    expect(s.snapshot().value).toBe('failed');
    expect(s.snapshot().context.failure).toEqual({
      phase: 'close',
      code: 'close_timeout',
      message: 'closing took longer than 700 ms',
    });
  });
});

describe('session cancel and failure', () => {
  it('CANCEL from any live state closes and ends cancelled', async () => {
    for (const where of ['prewarming', 'connecting', 'greeting', 'active'] as const) {
      const s = run({
        prewarm: where === 'prewarming' ? 'hang' : 'ok',
        connect: [where === 'connecting' ? 'hang' : 'ok'],
        greet: where === 'greeting' ? 'hang' : 'ok',
      });
      await flush();
      expect(
        s.snapshot().value === where || (s.snapshot().value as Record<string, unknown>)[where],
      ).toBeTruthy();
      s.actor.send({ type: 'CANCEL', reason: 'operator' });
      await flush();
      expect(s.snapshot().value, where).toBe('cancelled');
      expect(s.snapshot().context.cancelReason).toBe('operator');
      expect(s.calls.at(-1)).toBe('close:cancelled');
    }
  });

  it('a cancel stays a cancel even when close fails; the failure is a warning', async () => {
    const s = run({ close: { fail: new Error('disconnect threw') } });
    await flush();
    s.actor.send({ type: 'CANCEL' });
    await flush();
    expect(s.snapshot().value).toBe('cancelled');
    expect(s.snapshot().context.failure).toBeNull();
    expect(s.snapshot().context.warnings).toEqual([
      { phase: 'close', code: 'session_error', message: 'disconnect threw' },
    ]);
  });

  it('CANCEL and FAIL while closing change nothing', async () => {
    const s = run({ close: 'hang' });
    await flush();
    s.actor.send({ type: 'TRANSPORT_ENDED' });
    s.actor.send({ type: 'CANCEL' });
    s.actor.send({ type: 'FAIL', code: 'session_error', message: 'late' });
    expect(s.snapshot().context.closeReason).toBe('ended');
    expect(s.snapshot().context.failure).toBeNull();
  });

  it('FAIL from the agent session fails in the phase it happened', async () => {
    const s = run({});
    await flush();
    s.actor.send({ type: 'FAIL', code: 'session_error', message: 'llm quota' });
    await flush();
    const last = s.emitted.at(-1);
    expect(last).toMatchObject({
      to: 'failed',
      failure: { phase: 'active', code: 'session_error', message: 'llm quota' },
    });
  });

  it('the closing of a failing session already carries its failure; a normal closing carries none', async () => {
    const failing = run({ close: 'hang' });
    await flush();
    failing.actor.send({ type: 'FAIL', code: 'session_error', message: 'llm quota' });
    await flush();
    expect(failing.snapshot().value).toBe('closing');
    expect(failing.emitted.at(-1)).toMatchObject({
      to: 'closing',
      failure: { phase: 'active', code: 'session_error', message: 'llm quota' },
    });
    const normal = run({ close: 'hang' });
    await flush();
    normal.actor.send({ type: 'TRANSPORT_ENDED' });
    await flush();
    expect(normal.emitted.at(-1)).toMatchObject({ to: 'closing' });
    expect(normal.emitted.at(-1)).not.toHaveProperty('failure');
  });
});
