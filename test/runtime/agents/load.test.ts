import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AgentDiscoveryError,
  AgentModuleError,
  discoverAgents,
  isAgentFile,
  loadAgentModule,
} from '../../../src/runtime/agents/load.ts';

const fixtures = fileURLToPath(new URL('../../fixtures/agents/', import.meta.url));
const at = (path: string) => join(fixtures, path);

async function loadError(path: string): Promise<AgentModuleError> {
  const err = await loadAgentModule(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AgentModuleError);
  return err as AgentModuleError;
}

describe('loadAgentModule', () => {
  it('imports a TypeScript module by absolute path and returns its spec', async () => {
    const loaded = await loadAgentModule(at('good/alpha.ts'));
    expect(loaded.spec).toEqual({
      name: 'alpha',
      module: at('good/alpha.ts'),
      greeting: { say: 'Hello from alpha.' },
      limits: { greetMs: 5000, greetingRequired: true },
      options: { tier: 'gold', seats: 3 },
    });
    expect(typeof loaded.definition.agent).toBe('function');
  });

  it('imports a plain JavaScript module whose default export is a plain definition object', async () => {
    const loaded = await loadAgentModule(at('good/beta.js'));
    expect(loaded.spec).toEqual({ name: 'beta-line', module: at('good/beta.js') });
  });

  it('a module that throws at import: the error names the file and carries the original message', async () => {
    const err = await loadError(at('broken/throws.ts'));
    expect(err.message).toContain(at('broken/throws.ts'));
    expect(err.message).toContain('import failed: database unreachable at import');
    expect((err.cause as Error).message).toBe('database unreachable at import');
  });

  it('a module without a default export says so', async () => {
    const err = await loadError(at('broken/no-default.ts'));
    expect(err.message).toBe(
      `${at('broken/no-default.ts')}: no default export; write \`export default defineAgent({...})\``,
    );
  });

  it('a default export of the wrong shape names the fields', async () => {
    const err = await loadError(at('broken/wrong-shape.ts'));
    expect(err.message).toContain('invalid agent definition');
    expect(err.message).toContain('→ at name');
    expect(err.message).toContain('→ at greeting');
    expect(err.message).toContain('→ at agent');
  });

  it('a default export that is a function is not mistaken for a definition', async () => {
    const err = await loadError(at('broken/a-function.ts'));
    expect(err.message).toContain('default export is a function, not an agent definition');
  });

  it('a missing module says there is no such module', async () => {
    const err = await loadError(at('good/nope.ts'));
    expect(err.reason).toBe('no such module');
  });
});

describe('module format', () => {
  it('a module that would load as CommonJS is refused before it runs, saying what to change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openrtc-cjs-'));
    try {
      await writeFile(join(dir, 'agent.ts'), "throw new Error('must not run');\n");
      const err = await loadError(join(dir, 'agent.ts'));
      expect(err.reason).toBe(
        'would load as CommonJS (no package.json above it says "type": "module"): agent modules are ES modules; add "type": "module" to the package.json, or name the file .mts',
      );
      await writeFile(join(dir, 'package.json'), '{ "name": "x" }\n');
      expect((await loadError(join(dir, 'agent.ts'))).reason).toContain(
        `(${join(dir, 'package.json')} has no "type": "module")`,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('agents-js modules (defineAgent({ prewarm, entry }) from @livekit/agents)', () => {
  it('are accepted as entry agents, named after the file, and refuse the local transport by name', async () => {
    const file = at('agents-js-no-cli/plain-entry.ts');
    const loaded = await loadAgentModule(file);
    expect(loaded.spec).toEqual({ name: 'plain-entry', module: file });
    expect(typeof loaded.entry?.entry).toBe('function');
    expect(() => (loaded.definition.agent as () => unknown)()).toThrow(
      `${file} is an agents-js entry agent (defineAgent({ entry }) from '@livekit/agents'): its entry(ctx) runs only in a LiveKit room`,
    );
  });

  it('without an entry function: refused, naming the file and what to add', async () => {
    const err = await loadError(at('agents-js-no-cli/no-entry.ts'));
    expect(err.message).toBe(
      `${at('agents-js-no-cli/no-entry.ts')}: agents-js defineAgent() without an entry function: add \`entry: async (ctx) => { await ctx.connect(); ... }\``,
    );
  });
});

describe('discoverAgents', () => {
  it('loads *.ts and *.js, skipping _ files, .d.ts and other files', async () => {
    const found = await discoverAgents(at('good'));
    expect(found.errors).toEqual([]);
    expect(found.agents.map((a) => a.name)).toEqual(['alpha', 'beta-line']);
  });

  it('reports modules that fail, and still serves the rest', async () => {
    const found = await discoverAgents(at('broken'));
    expect(found.agents.map((a) => a.name)).toEqual(['fine']);
    expect(found.errors.map((e) => e.file).sort()).toEqual(
      ['a-function.ts', 'no-default.ts', 'throws.ts', 'wrong-shape.ts'].map((f) => at(`broken/${f}`)),
    );
    for (const e of found.errors) expect(e.message).toContain(e.file);
  });

  it('two modules with one agent name is an error naming both files', async () => {
    const err = await discoverAgents(at('duplicate')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentDiscoveryError);
    expect((err as Error).message).toBe(
      `agent name "same" is defined by both ${at('duplicate/one.ts')} and ${at('duplicate/two.ts')}`,
    );
  });

  it('a folder with no agent modules is an error', async () => {
    await expect(discoverAgents(at('only-helpers'))).rejects.toThrow(/no agent modules/);
    const empty = await mkdtemp(join(tmpdir(), 'openrtc-agents-'));
    try {
      await expect(discoverAgents(empty)).rejects.toThrow(`${empty}: no agent modules`);
    } finally {
      await rm(empty, { recursive: true });
    }
  });

  it('a missing folder is an error naming it', async () => {
    await expect(discoverAgents(at('nowhere'))).rejects.toThrow(
      `${at('nowhere')}: cannot read agents folder`,
    );
  });

  it('a path to one module serves that module; a path to another kind of file is refused', async () => {
    const one = await discoverAgents(at('good/alpha.ts'));
    expect(one.agents.map((a) => a.module)).toEqual([at('good/alpha.ts')]);
    await expect(discoverAgents(at('good/README.md'))).rejects.toThrow('not an agent module');
  });

  it('a folder where no module loads is an error naming each file and its error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openrtc-agents-'));
    try {
      await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
      await writeFile(join(dir, 'a.ts'), 'export const x = 1;\n');
      await writeFile(join(dir, 'b.ts'), "throw new Error('boom at import');\n");
      const err = await discoverAgents(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentDiscoveryError);
      expect((err as Error).message).toContain(`${dir}: no agent could be loaded`);
      expect((err as Error).message).toContain(`${join(dir, 'a.ts')}: no default export`);
      expect((err as Error).message).toContain(`${join(dir, 'b.ts')}: import failed: boom at import`);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('knows an agent file when it sees one', () => {
    expect(['a.ts', 'b.js', 'c.mts', 'd.mjs'].every(isAgentFile)).toBe(true);
    expect(['_a.ts', 'b.d.ts', 'c.json', '.hidden.ts', 'README.md'].some(isAgentFile)).toBe(false);
  });
});
