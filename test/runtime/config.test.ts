import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/protocol/index.ts';
import { withDefaults } from '../../src/runtime/agents/define.ts';
import { applyPoolDefaults, ConfigError, loadPoolConfig } from '../../src/runtime/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'openrtc-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('pool config file', () => {
  it('reads defaults for greeting, limits and providers', async () => {
    const p = file(
      'ok.json',
      JSON.stringify({
        defaults: {
          greeting: { say: 'Hi' },
          providers: { llm: 'openai/gpt-4.1-mini' },
          limits: { greetMs: 5000 },
        },
      }),
    );
    expect(await loadPoolConfig(p)).toEqual({
      defaults: {
        greeting: { say: 'Hi' },
        providers: { llm: 'openai/gpt-4.1-mini' },
        limits: { greetMs: 5000 },
      },
    });
  });

  it.each([
    ['missing.json', null, /cannot read it \(ENOENT\)/],
    ['bad.json', '{"defaults": ', /not valid JSON/],
    ['typo.json', JSON.stringify({ defaults: { greting: { say: 'x' } } }), /greting/],
    ['type.json', JSON.stringify({ defaults: { limits: { greetMs: 'soon' } } }), /defaults\.limits\.greetMs/],
    ['provider.json', JSON.stringify({ defaults: { providers: { llm: () => 1, asr: 'x' } } }), /asr/],
  ])('%s is refused with the file and what is wrong where', async (name, text, pattern) => {
    const p = text === null ? join(dir, name) : file(name, text);
    const err = await loadPoolConfig(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(p);
    expect((err as Error).message).toMatch(pattern);
  });
});

describe('pool defaults', () => {
  const spec = (over: Partial<AgentSpec> = {}): AgentSpec => ({ name: 'a', module: '/x/a.ts', ...over });

  it('fill what an agent leaves unset, and never override what it sets', () => {
    const [filled, own] = applyPoolDefaults(
      [
        spec(),
        spec({
          name: 'b',
          greeting: { say: 'Mine' },
          limits: { greetMs: 1 },
          providers: { llm: 'mine/llm' },
        }),
      ],
      {
        greeting: { say: 'Pool' },
        limits: { greetMs: 9, closeMs: 7 },
        providers: { llm: 'pool/llm', tts: 'pool/tts' },
      },
    );
    expect(filled).toMatchObject({
      greeting: { say: 'Pool' },
      limits: { greetMs: 9, closeMs: 7 },
      providers: { llm: 'pool/llm', tts: 'pool/tts' },
    });
    expect(own).toMatchObject({
      greeting: { say: 'Mine' },
      limits: { greetMs: 1, closeMs: 7 },
      providers: { llm: 'mine/llm', tts: 'pool/tts' },
    });
  });

  it('reach the worker side definition: model strings for unset providers, the greeting if none', () => {
    const factory = () => ({}) as never;
    const def = { agent: factory, providers: { stt: factory } };
    const merged = withDefaults(def, {
      greeting: { say: 'Pool' },
      providers: { stt: 'pool/stt', llm: 'pool/llm' },
    });
    expect(merged.greeting).toEqual({ say: 'Pool' });
    expect(merged.providers?.stt).toBe(factory);
    expect(merged.providers?.llm).toBe('pool/llm');
    expect(withDefaults(def, undefined)).toBe(def);
  });
});
