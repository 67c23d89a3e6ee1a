import { readdir, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentSpec } from '../../protocol/agent.ts';
import { type AgentDefinition, isDefinedAgent, toAgentSpec, validateDefinition } from './define.ts';

/** An agent module that cannot be used; the message names the file and what is wrong. */
export class AgentModuleError extends Error {
  override name = 'AgentModuleError';
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, options);
  }
}

/** A folder of agents that cannot be served as a whole: missing, empty, or with clashing names. */
export class AgentDiscoveryError extends Error {
  override name = 'AgentDiscoveryError';
}

export interface LoadedAgent {
  /** Absolute path of the module. */
  path: string;
  definition: AgentDefinition;
  spec: AgentSpec;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Imports an agent module by path (.ts under tsx, or .js) and checks its default export. */
export async function loadAgentModule(path: string): Promise<LoadedAgent> {
  const abs = isAbsolute(path) ? path : resolve(path);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(abs)) {
      throw new AgentModuleError(abs, 'no such module', { cause: err });
    }
    throw new AgentModuleError(abs, `import failed: ${e instanceof Error ? e.message : String(err)}`, {
      cause: err,
    });
  }
  if (!('default' in mod) || mod.default === undefined) {
    throw new AgentModuleError(abs, 'no default export; write `export default defineAgent({...})`');
  }
  const exported = mod.default;
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new AgentModuleError(
      abs,
      `default export is ${describe(exported)}, not an agent definition; write \`export default defineAgent({...})\``,
    );
  }
  let definition: AgentDefinition;
  let spec: AgentSpec;
  try {
    definition = isDefinedAgent(exported) ? exported : validateDefinition(exported);
    spec = toAgentSpec(definition, abs);
  } catch (err) {
    throw new AgentModuleError(abs, `invalid agent definition: ${(err as Error).message}`, { cause: err });
  }
  return { path: abs, definition, spec };
}

/** Agent module files in a folder: *.ts and *.js, not *.d.ts, not starting with `_`. */
export function isAgentFile(name: string): boolean {
  if (name.startsWith('_') || name.startsWith('.')) return false;
  if (name.endsWith('.d.ts')) return false;
  const ext = extname(name);
  return ext === '.ts' || ext === '.js' || ext === '.mts' || ext === '.mjs';
}

export interface Discovery {
  agents: AgentSpec[];
  /** Modules that could not be loaded; the others are still served. */
  errors: { file: string; message: string }[];
}

/** Imports every agent module of a folder; throws AgentDiscoveryError when there is nothing to serve or names clash. */
export async function discoverAgents(dir: string): Promise<Discovery> {
  const abs = resolve(dir);
  let names: string[];
  try {
    if (!(await stat(abs)).isDirectory()) throw new AgentDiscoveryError(`${abs}: not a directory`);
    names = await readdir(abs);
  } catch (err) {
    if (err instanceof AgentDiscoveryError) throw err;
    throw new AgentDiscoveryError(`${abs}: cannot read agents folder: ${(err as Error).message}`);
  }
  const files = names.filter(isAgentFile).sort();
  if (files.length === 0) {
    throw new AgentDiscoveryError(
      `${abs}: no agent modules (*.ts or *.js files whose names do not start with _)`,
    );
  }
  const agents: AgentSpec[] = [];
  const errors: Discovery['errors'] = [];
  const byName = new Map<string, string>();
  for (const file of files) {
    const path = join(abs, file);
    try {
      const { spec } = await loadAgentModule(path);
      const other = byName.get(spec.name);
      if (other) {
        throw new AgentDiscoveryError(
          `agent name ${JSON.stringify(spec.name)} is defined by both ${other} and ${path}`,
        );
      }
      byName.set(spec.name, path);
      agents.push(spec);
    } catch (err) {
      if (err instanceof AgentDiscoveryError) throw err;
      errors.push({ file: path, message: (err as Error).message });
    }
  }
  return { agents, errors };
}
