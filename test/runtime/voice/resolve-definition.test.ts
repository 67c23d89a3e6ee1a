import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAgentModule } from '../../../src/runtime/agents/load.ts';
import { resolveDefinition } from '../../../src/runtime/voice/agent-session.ts';

const BETA = fileURLToPath(new URL('../../fixtures/agents/good/beta.js', import.meta.url));

describe("a session's agent definition", () => {
  it('is the module its worker loaded at prewarm: not imported, stat’ed or checked again per session', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openrtc-resolve-'));
    try {
      await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
      const path = join(dir, 'beta.js');
      await copyFile(BETA, path);
      const loaded = await loadAgentModule(path);
      // Gone from disk (a rollout replacing the files, say): this worker's sessions keep its code.
      await rm(path);
      const definition = await resolveDefinition(path, undefined);
      expect(definition.name).toBe('beta-line');
      expect(definition.agent).toBe(loaded.definition.agent);
      // A module the worker never loaded is still imported, with its error named.
      await expect(resolveDefinition(join(dir, 'never.js'), undefined)).rejects.toThrow(/no such module/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
