import { describe, expect, it } from 'vitest';
import { type WorkerInput, workerMachine } from '../../src/actors/worker.machine.ts';
import {
  createActor,
  Deferreds,
  type ModelEvent,
  runShortestPaths,
  SimulatedClock,
  uncovered,
} from './model-support.ts';

const welcome = { version: 1, agents: [{ name: 'dental', module: './agents/dental.ts' }], heartbeatMs: 1000 };

/** Events with the payloads the runtime would send; timeouts are added by the traversal. */
const events: ModelEvent[] = [
  { type: 'STARTED' },
  { type: 'xstate.done.actor.register', output: welcome },
  {
    type: 'xstate.error.actor.register',
    error: { code: 'version_incompatible', message: 'supervisor speaks 2..2' },
  },
  { type: 'xstate.done.actor.prewarm', output: { ms: 61 } },
  { type: 'xstate.error.actor.prewarm', error: new Error('onnx model missing') },
  { type: 'SESSION_ADMIT', sessionId: 's1' },
  { type: 'SESSION_ADMIT', sessionId: 's2' },
  { type: 'SESSION_FINISHED', sessionId: 's1' },
  { type: 'SESSION_FINISHED', sessionId: 's2' },
  { type: 'DRAIN', timeoutMs: 500 },
  { type: 'SHUTDOWN', reason: 'test' },
];

// The transition counter grows on every ready ⇄ full cycle, so states are compared without it.
const input: WorkerInput = { workerId: 'w1', capacity: 2, drainTimeoutMs: 1000, drainGraceMs: 200 };

function sut() {
  const deferreds = new Deferreds();
  const clock = new SimulatedClock();
  const cancelled: string[][] = [];
  const machine = workerMachine.provide({
    actors: { register: deferreds.actor('register'), prewarm: deferreds.actor('prewarm') },
    actions: { cancelSessions: (_, params) => void cancelled.push(params.sessionIds) },
  });
  return { actor: createActor(machine, { input, clock }), clock, deferreds };
}

describe('worker machine, model-based', () => {
  it('reaches every state and takes every transition', () => {
    const missing = uncovered(workerMachine, [{ input, events }], ['seq']);
    expect(missing.states).toEqual([]);
    expect(missing.transitions).toEqual([]);
  });

  it('a real actor follows the shortest path to every state', async () => {
    const ran = await runShortestPaths(workerMachine, input, events, sut, ['seq']);
    expect(ran).toBeGreaterThan(10);
  });
});
