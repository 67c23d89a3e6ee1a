import { voice } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { AgentSpec } from '../../../src/protocol/agent.ts';
import {
  AgentDefinitionError,
  defineAgent,
  isDefinedAgent,
  toAgentSpec,
} from '../../../src/runtime/agents/define.ts';
import { AgentInstantiationError, instantiateAgent } from '../../../src/runtime/agents/instantiate.ts';

class Host extends voice.Agent {
  constructor() {
    super({ instructions: 'host' });
  }
}

describe('defineAgent', () => {
  it('brands a valid definition and keeps what it was given', () => {
    const def = defineAgent({ name: 'host', greeting: { say: 'Hi' }, agent: Host });
    expect(isDefinedAgent(def)).toBe(true);
    expect(isDefinedAgent({ ...def })).toBe(true);
    expect(isDefinedAgent({ agent: Host })).toBe(false);
    expect(def.greeting).toEqual({ say: 'Hi' });
  });

  it('names every field that is wrong', () => {
    const bad = {
      name: 'has spaces',
      greeting: { shout: 'HI' },
      providers: { llm: 42 },
      agent: 'not a class',
    } as never;
    let message = '';
    try {
      defineAgent(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(AgentDefinitionError);
      message = (err as Error).message;
    }
    for (const path of ['name', 'greeting', 'providers.llm', 'agent'])
      expect(message).toContain(`→ at ${path}`);
  });

  it('refuses provider instances: only model strings or factories', () => {
    expect(() =>
      defineAgent({ providers: { llm: new voice.testing.FakeLLM() as never }, agent: Host }),
    ).toThrow(/providers\.llm/);
  });
});

describe('toAgentSpec', () => {
  it('is plain data that survives JSON and the protocol schema, and holds no code', () => {
    const def = defineAgent({
      greeting: { instructions: 'greet' },
      greetingRequired: true,
      limits: { greetMs: 3000 },
      providers: { llm: 'openai/gpt-4.1-mini', stt: () => 'deepgram/nova-3' },
      session: { maxToolSteps: 2 },
      options: { tier: 'gold', nested: { a: [1, 2] } },
      agent: Host,
    });
    const spec = toAgentSpec(def, '/srv/agents/concierge.ts');
    expect(spec).toEqual({
      name: 'concierge',
      module: '/srv/agents/concierge.ts',
      greeting: { instructions: 'greet' },
      limits: { greetMs: 3000, greetingRequired: true },
      options: { tier: 'gold', nested: { a: [1, 2] } },
    });
    expect(AgentSpec.parse(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it('an explicit name wins over the file stem', () => {
    expect(toAgentSpec(defineAgent({ name: 'front-desk', agent: Host }), '/a/b/c.js').name).toBe(
      'front-desk',
    );
  });

  it('a file stem that is not a valid agent name asks for an explicit name', () => {
    expect(() => toAgentSpec(defineAgent({ agent: Host }), '/a/my agent.ts')).toThrow(
      /name "my agent" \(from the file name\)/,
    );
  });
});

describe('instantiateAgent', () => {
  it('runs factories, constructs agent classes, and passes model strings through', async () => {
    let made = 0;
    const inst = await instantiateAgent(
      defineAgent({
        providers: {
          stt: 'deepgram/nova-3',
          llm: () => {
            made += 1;
            return new voice.testing.FakeLLM();
          },
          vad: null,
        },
        session: () => ({ maxToolSteps: 7 }),
        agent: Host,
      }),
    );
    expect(inst.agent).toBeInstanceOf(Host);
    expect(inst.stt).toBe('deepgram/nova-3');
    expect(inst.llm).toBeInstanceOf(voice.testing.FakeLLM);
    expect(inst.vad).toBeNull();
    expect(inst.session).toEqual({ maxToolSteps: 7 });
    expect(made).toBe(1);
  });

  it('defaults to the shared VAD', async () => {
    expect((await instantiateAgent(defineAgent({ agent: Host }))).vad).toBe('shared');
  });

  it('says which factory failed', async () => {
    const def = defineAgent({
      providers: {
        tts: () => {
          throw new Error('no TTS key');
        },
      },
      agent: Host,
    });
    await expect(instantiateAgent(def)).rejects.toThrow(AgentInstantiationError);
    await expect(instantiateAgent(def)).rejects.toThrow('providers.tts factory: no TTS key');
  });

  it('refuses an agent factory that returns something else', async () => {
    const def = defineAgent({ agent: () => ({ instructions: 'looks like an agent' }) as never });
    await expect(instantiateAgent(def)).rejects.toThrow('agent: did not produce a voice.Agent');
  });
});
