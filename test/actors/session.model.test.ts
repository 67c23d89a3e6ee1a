import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { resolveLimits, type SessionInput, sessionMachine } from '../../src/actors/session.machine.ts';
import { findNotPlain } from '../../src/protocol/index.ts';
import {
  createActor,
  Deferreds,
  eventsFrom,
  type ModelEvent,
  runShortestPaths,
  SimulatedClock,
  uncovered,
} from './model-support.ts';

/** Events with the payloads the runtime would send; the traversal adds payload-free ones (timeouts, done). */
const events: ModelEvent[] = [
  { type: 'xstate.error.actor.prewarm', error: { code: 'agent_import_failed', message: 'no such module' } },
  { type: 'xstate.error.actor.connect', error: new Error('room not found') },
  { type: 'xstate.error.actor.greet', error: { code: 'session_error', message: 'tts down' } },
  { type: 'xstate.error.actor.close', error: 'disconnect threw' },
  { type: 'CANCEL', reason: 'caller hung up' },
  { type: 'FAIL', code: 'session_error', message: 'llm failed' },
  { type: 'TRANSPORT_ENDED', reason: 'participant left' },
];

const inputs: SessionInput[] = [false, true].flatMap((hasGreeting) =>
  [false, true].map((greetingRequired) => ({
    sessionId: `s-${hasGreeting}-${greetingRequired}`,
    agent: 'dental',
    worker: 'w1',
    limits: resolveLimits({ connectAttempts: 2, greetingRequired }),
    hasGreeting,
    seed: 7,
  })),
);

function sut(input: SessionInput) {
  const deferreds = new Deferreds();
  const clock = new SimulatedClock();
  const machine = sessionMachine.provide({
    actors: {
      prewarm: deferreds.actor('prewarm'),
      connect: deferreds.actor('connect'),
      greet: deferreds.actor('greet'),
      close: deferreds.actor('close'),
    },
  });
  return { actor: createActor(machine, { input, clock }), clock, deferreds };
}

describe('session machine, model-based', () => {
  it('reaches every state and takes every transition', () => {
    const missing = uncovered(
      sessionMachine,
      inputs.map((input) => ({ input, events })),
    );
    expect(missing.states).toEqual([]);
    expect(missing.transitions).toEqual([]);
  });

  it.each(inputs)('a real actor follows the shortest path to every state ($sessionId)', async (input) => {
    const ran = await runShortestPaths(sessionMachine, input, events, () => sut(input));
    expect(ran).toBeGreaterThan(10);
  });

  it('every reachable context is plain data', async () => {
    const { getAdjacencyMap } = await import('xstate/graph');
    for (const input of inputs) {
      for (const { state } of Object.values(
        getAdjacencyMap(sessionMachine as AnyStateMachine, { input, events: eventsFrom(events) }),
      )) {
        expect(findNotPlain(state.context)).toBeNull();
      }
    }
  });
});
