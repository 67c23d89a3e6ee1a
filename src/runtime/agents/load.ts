import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AgentSpec } from '../../protocol/agent.ts';
import { AgentName } from '../../protocol/agent.ts';
import { RUN_FROM } from '../run-from.ts';
import { type AgentsJsAgent, agentsJsExport, checkAgentsJsAgent, entryAgentDefinition } from './agents-js.ts';
import { type AgentDefinition, isDefinedAgent, toAgentSpec, validateDefinition } from './define.ts';
import { AGENT_MARK, installAgentHooks, RUN_APP_NOTE } from './hooks.ts';

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
  /**
   * Set for an agents-js module (`defineAgent({ prewarm, entry })` from '@livekit/agents'): it runs
   * in LiveKit rooms only (entry-agent.ts); `definition` then stands for it in the registry.
   */
  entry?: AgentsJsAgent;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const TYPESCRIPT = /\.[cm]?tsx?$/;
let typescript: Promise<void> | undefined;

/**
 * Readies this process to import an agent module: the module hooks (hooks.ts), and, when we run
 * from the build and the module is TypeScript, tsx. tsx is registered for the whole process, not
 * with tsImport: a namespaced import loads the module's dependencies again under the namespace, and
 * the agent would get its own copy of @livekit/agents (voice.Agent subclasses and getJobContext()
 * need the worker's).
 */
async function prepareImport(abs: string): Promise<void> {
  installAgentHooks();
  if (RUN_FROM === 'src' || !TYPESCRIPT.test(abs)) return;
  typescript ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  await typescript;
}

/** `cli.runApp(options)` calls of agents-js modules, by module path (reported by the hooks' shim). */
const runAppCalls = new Map<string, unknown>();
(globalThis as Record<symbol, unknown>)[RUN_APP_NOTE] ??= (url: string, options: unknown) => {
  runAppCalls.set(fileURLToPath(url), options);
};

/** The agent name an agents-js module gave `cli.runApp(new ServerOptions({ agentName }))`, if valid. */
function runAppAgentName(abs: string): string | undefined {
  const options = runAppCalls.get(abs) as { agentName?: unknown; agentNameIsEnv?: unknown } | undefined;
  const name = options?.agentName;
  if (typeof name !== 'string' || name === '' || options?.agentNameIsEnv === true) return undefined;
  return AgentName.safeParse(name).success ? name : undefined;
}

/** Modules this process has loaded, by absolute path. */
const loaded = new Map<string, LoadedAgent>();

/** The agent module at `path` if this process has loaded it (a worker loads each at prewarm). */
export function loadedAgent(path: string): LoadedAgent | undefined {
  return loaded.get(path);
}

/** Imports an agent module by path (.ts through tsx, or .js) and checks its default export. */
export async function loadAgentModule(path: string): Promise<LoadedAgent> {
  const abs = isAbsolute(path) ? path : resolve(path);
  const agent = await importAgentModule(abs);
  loaded.set(abs, agent);
  return agent;
}

/** The package.json that decides how Node loads `abs` (the nearest one up the tree), if any. */
async function packageScope(abs: string): Promise<{ file: string; type?: unknown } | undefined> {
  for (let dir = dirname(abs); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        return { file, type: (JSON.parse(text) as { type?: unknown }).type };
      } catch {
        return { file };
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Agent modules must be ES modules: openrtc and @livekit/agents are shared with the worker only as
 * ES modules (a CommonJS module would get agents-js's CommonJS copy, and its `cli.runApp` could not
 * be stopped).
 */
async function assertEsm(abs: string): Promise<void> {
  const ext = extname(abs);
  if (ext === '.mts' || ext === '.mjs') return;
  const scope = await packageScope(abs);
  if (scope?.type === 'module') return;
  const where = scope
    ? `${scope.file} has no "type": "module"`
    : 'no package.json above it says "type": "module"';
  throw new AgentModuleError(
    abs,
    `would load as CommonJS (${where}): agent modules are ES modules; add "type": "module" to the package.json, or name the file ${ext === '.js' ? '.mjs' : '.mts'}`,
  );
}

async function importAgentModule(abs: string): Promise<LoadedAgent> {
  const found = await stat(abs).catch(() => undefined);
  if (!found?.isFile()) throw new AgentModuleError(abs, 'no such module');
  await assertEsm(abs);
  let mod: Record<string, unknown>;
  try {
    await prepareImport(abs);
    mod = (await import(`${pathToFileURL(abs).href}?${AGENT_MARK}`)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AgentModuleError(abs, `import failed: ${e instanceof Error ? e.message : String(err)}`, {
      cause: err,
    });
  }
  if (!('default' in mod) || mod.default === undefined) {
    throw new AgentModuleError(abs, 'no default export; write `export default defineAgent({...})`');
  }
  const exported = mod.default;
  const agentsJs = agentsJsExport(exported);
  if (agentsJs) return loadAgentsJsModule(abs, agentsJs);
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

function loadAgentsJsModule(abs: string, exported: Record<string, unknown>): LoadedAgent {
  try {
    const entry = checkAgentsJsAgent(exported);
    const definition = entryAgentDefinition(abs, entry, runAppAgentName(abs));
    return { path: abs, definition, spec: toAgentSpec(definition, abs), entry };
  } catch (err) {
    throw new AgentModuleError(abs, (err as Error).message, { cause: err });
  }
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

/**
 * Imports every agent module of a folder (or the one module a path names). Throws
 * AgentDiscoveryError when there is nothing to serve: no module, none that loads (the message names
 * each file and its error), or two modules with one name.
 */
export async function discoverAgents(dir: string): Promise<Discovery> {
  const abs = resolve(dir);
  let paths: string[];
  try {
    const found = await stat(abs);
    if (found.isFile()) {
      if (!isAgentFile(basename(abs))) {
        throw new AgentDiscoveryError(`${abs}: not an agent module (*.ts, *.js, *.mts or *.mjs)`);
      }
      paths = [abs];
    } else if (found.isDirectory()) {
      paths = (await readdir(abs))
        .filter(isAgentFile)
        .sort()
        .map((f) => join(abs, f));
    } else throw new AgentDiscoveryError(`${abs}: not a directory or an agent module`);
  } catch (err) {
    if (err instanceof AgentDiscoveryError) throw err;
    throw new AgentDiscoveryError(`${abs}: cannot read agents folder: ${(err as Error).message}`);
  }
  if (paths.length === 0) {
    throw new AgentDiscoveryError(
      `${abs}: no agent modules (*.ts or *.js files whose names do not start with _)`,
    );
  }
  const agents: AgentSpec[] = [];
  const errors: Discovery['errors'] = [];
  const byName = new Map<string, string>();
  for (const path of paths) {
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
  if (agents.length === 0) {
    throw new AgentDiscoveryError(
      `${abs}: no agent could be loaded:\n${errors.map((e) => `  ${e.message}`).join('\n')}`,
    );
  }
  return { agents, errors };
}
