import { describe, expect, it } from 'vitest';
import { type EventObject, fromCallback } from 'xstate';
import type { sessionMachine } from '../../src/actors/session.machine.ts';
import { type SessionRequest, type WorkerInput, workerMachine } from '../../src/actors/worker.machine.ts';
import {
  createActor,
  Deferreds,
  type ModelEvent,
  runShortestPaths,
  SimulatedClock,
  uncovered,
} from './model-support.ts';

const welcome = { version: 1, agents: [{ name: 'dental', module: './agents/dental.ts' }], heartbeatMs: 1000 };
const request = (session: string): SessionRequest => ({
  session,
  agent: 'dental',
  job: { id: `j-${session}`, room: 'dental-1' },
  transport: { kind: 'local', input: { kind: 'silence', durationMs: 100 }, output: { kind: 'discard' } },
});

/** Events with the payloads the runtime would send; timeouts are added by the traversal. */
const events: ModelEvent[] = [
  { type: 'STARTED' },
  { type: 'xstate.done.actor.register', output: welcome },
  {
    type: 'xstate.error.actor.register',
    error: { code: 'version_incompatible', message: 'supervisor speaks 2..2' },
  },
  {
    type: 'xstate.error.actor.register',
    error: { code: 'no_responders', message: 'no one is listening', retryable: true },
  },
  { type: 'xstate.done.actor.prewarm', output: { ms: 61 } },
  { type: 'xstate.error.actor.prewarm', error: new Error('onnx model missing') },
  { type: 'SESSION_ADMIT', request: request('s1'), now: 10 },
  { type: 'SESSION_ADMIT', request: request('s2'), now: 20 },
  { type: 'SESSION_ENDED', sessionId: 's1', state: 'closed', seq: 6, now: 30 },
  { type: 'SESSION_ENDED', sessionId: 's2', state: 'cancelled', seq: 5, now: 40 },
  { type: 'SESSION_CANCEL', sessionId: 's1', reason: 'test' },
  { type: 'DRAIN', timeoutMs: 500 },
  { type: 'SHUTDOWN', reason: 'test' },
  { type: 'LINK', up: false, now: 50 },
  { type: 'LINK', up: true, now: 60 },
  { type: 'SUPERVISOR_UP' },
  { type: 'WELCOMED', welcome },
  { type: 'BEAT' },
];

// The transition counter grows on every ready ⇄ full cycle, and registration on every retry, so
// states are compared without them.
const ignore = ['seq', 'registration'];
const input: WorkerInput = { workerId: 'w1', capacity: 2, drainTimeoutMs: 1000, drainGraceMs: 200 };

/** Children that do nothing: the model is about the worker's own chart. */
const inert = fromCallback<EventObject, { intervalMs: number }>(() => {});

function sut() {
  const deferreds = new Deferreds();
  const clock = new SimulatedClock();
  const machine = workerMachine.provide({
    actors: {
      register: deferreds.actor('register'),
      prewarm: deferreds.actor('prewarm'),
      session: inert as unknown as typeof sessionMachine,
      heartbeat: inert,
    },
  });
  return { actor: createActor(machine, { input, clock }), clock, deferreds };
}

describe('worker machine, model-based', () => {
  it('reaches every state and takes every transition', () => {
    const missing = uncovered(workerMachine, [{ input, events }], ignore);
    expect(missing.states).toEqual([]);
    expect(missing.transitions).toEqual([]);
  });

  it('a real actor follows the shortest path to every state', async () => {
    const ran = await runShortestPaths(workerMachine, input, events, sut, ignore);
    expect(ran).toBeGreaterThan(10);
  });
});
