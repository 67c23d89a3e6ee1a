import { voice } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import * as dental from '../../../examples/agents/dental.ts';
import * as restaurant from '../../../examples/agents/restaurant.ts';
import { instantiateAgent } from '../../../src/runtime/agents/instantiate.ts';
import { discoverAgents } from '../../../src/runtime/agents/load.ts';
import { ensureAgentsLogger } from '../../../src/runtime/voice/agents-log.ts';
import { EXAMPLES } from '../voice/helpers.ts';

/** The example's agent and offline providers in agents-js's text-mode test harness (`session.run`). */
async function textSession(def: typeof restaurant.default) {
  ensureAgentsLogger();
  const inst = await instantiateAgent(def);
  const session = new voice.AgentSession({ llm: inst.llm, vad: null, turnHandling: { turnDetection: null } });
  await session.start({ agent: inst.agent, record: false });
  return session;
}

describe('the example agents', () => {
  it('are discovered from examples/agents as plain specs that use the offline test providers', async () => {
    const found = await discoverAgents(EXAMPLES.dir);
    expect(found.errors).toEqual([]);
    expect(found.agents.map((a) => [a.name, a.module, a.options?.providers])).toEqual([
      ['dental', EXAMPLES.dental, 'offline-test'],
      ['restaurant', EXAMPLES.restaurant, 'offline-test'],
    ]);
    expect(JSON.parse(JSON.stringify(found.agents))).toEqual(found.agents);
  });

  it('the restaurant host books a table with book_table, then confirms it', async () => {
    const session = await textSession(restaurant.default);
    const result = await session.run({ userInput: restaurant.CALLER_SAYS }).wait();
    result.expect.nextEvent().isFunctionCall({ name: 'book_table', args: { partySize: 4, time: '19:00' } });
    result.expect.nextEvent().isFunctionCallOutput({ output: JSON.stringify(restaurant.BOOKED) });
    const reply = result.expect.nextEvent().isMessage({ role: 'assistant' }).event().item;
    expect(reply.textContent).toBe('You are all set: a table for four at seven tonight.');
    result.expect.noMoreEvents();
    await session.close();
  });

  it('the dental receptionist books a cleaning with book_appointment, then confirms it', async () => {
    const session = await textSession(dental.default);
    const result = await session.run({ userInput: dental.CALLER_SAYS }).wait();
    result.expect.nextEvent().isFunctionCall({
      name: 'book_appointment',
      args: { reason: 'cleaning', day: 'Tuesday', time: '09:30' },
    });
    result.expect.nextEvent().isFunctionCallOutput({ output: JSON.stringify(dental.BOOKED) });
    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.noMoreEvents();
    await session.close();
  });
});
