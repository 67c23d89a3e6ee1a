import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BATCHED_VAD_DEFAULTS } from '../../../src/runtime/voice/batched-vad.ts';
import { SILERO_DEFAULTS } from '../../../src/runtime/voice/silero-defaults.ts';

/** The plugin's `defaultVADOptions` (not exported), read from its installed build. */
function pluginDefaults(): Record<string, unknown> {
  const entry = createRequire(import.meta.url).resolve('@livekit/agents-plugin-silero');
  const source = readFileSync(join(dirname(entry), 'vad.js'), 'utf8');
  const literal = /const defaultVADOptions = (\{[^}]*\});/.exec(source)?.[1];
  if (!literal)
    throw new Error('@livekit/agents-plugin-silero/dist/vad.js no longer declares defaultVADOptions');
  return runInNewContext(`(${literal})`) as Record<string, unknown>;
}

describe('the Silero defaults', () => {
  it("equal @livekit/agents-plugin-silero's own defaults", () => {
    expect({ ...SILERO_DEFAULTS }).toEqual(pluginDefaults());
  });

  it('are where the batched VAD starts from', () => {
    expect(BATCHED_VAD_DEFAULTS).toMatchObject(SILERO_DEFAULTS);
  });
});
