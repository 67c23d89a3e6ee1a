import type { JobContext, JobProcess } from '@livekit/agents';
import type { AgentDefinition } from './define.ts';

/**
 * An agents-js agent module, unchanged: `export default defineAgent({ prewarm, entry })` from
 * '@livekit/agents'. This file recognizes and checks one without loading agents-js (the
 * supervisor lists agents too); entry-agent.ts runs it in a worker.
 */
export interface AgentsJsAgent {
  entry: (ctx: JobContext) => Promise<void>;
  prewarm?: (proc: JobProcess) => unknown;
  onSessionEnd?: (ctx: JobContext) => unknown;
}

/** What agents-js's `defineAgent` marks its result with (generator.ts). */
const AGENTS_JS_DEFINITION = Symbol.for('livekit.agents.AgentDefinition');

/** The agents-js definition a module exports, as agents-js's job runner finds it; else undefined. */
export function agentsJsExport(exported: unknown): Record<string, unknown> | undefined {
  const marked = (v: unknown): v is Record<string | symbol, unknown> =>
    typeof v === 'object' && v !== null && AGENTS_JS_DEFINITION in v;
  if (marked(exported)) return exported;
  // A CommonJS-compiled module seen from ESM: { default: { default: definition } }.
  const inner =
    typeof exported === 'object' && exported !== null
      ? (exported as Record<string, unknown>).default
      : undefined;
  return marked(inner) ? inner : undefined;
}

/** An agents-js definition openrtc cannot run; the message says what to change. */
export class AgentsJsAgentError extends Error {
  override name = 'AgentsJsAgentError';
}

/** Checks the functions openrtc calls; throws AgentsJsAgentError naming the field. */
export function checkAgentsJsAgent(def: Record<string, unknown>): AgentsJsAgent {
  if (typeof def.entry !== 'function') {
    throw new AgentsJsAgentError(
      'agents-js defineAgent() without an entry function: add `entry: async (ctx) => { await ctx.connect(); ... }`',
    );
  }
  for (const hook of ['prewarm', 'onSessionEnd'] as const) {
    if (def[hook] !== undefined && typeof def[hook] !== 'function') {
      throw new AgentsJsAgentError(`agents-js defineAgent(): ${hook} must be a function`);
    }
  }
  return def as unknown as AgentsJsAgent;
}

/** Thrown when an entry agent is asked to run without a LiveKit room (the local transport). */
export class EntryAgentNeedsRoomError extends Error {
  override name = 'EntryAgentNeedsRoomError';
  constructor(file: string) {
    super(
      `${file} is an agents-js entry agent (defineAgent({ entry }) from '@livekit/agents'): its entry(ctx) ` +
        'runs only in a LiveKit room, and this session has the local transport (no room). Dispatch it ' +
        "through LiveKit (openrtc dev --livekit-url ...), or export openrtc's defineAgent({ agent }) to run it locally.",
    );
  }
}

/** Per module, this worker's agents-js JobProcess: `proc.userData` is the agent's own. */
const processes = new Map<string, Promise<JobProcess>>();

/**
 * The agent's JobProcess in this worker, its `prewarm(proc)` run once (as agents-js runs it once
 * per job process). A failed prewarm is retried by the next caller.
 */
export function agentProcess(file: string, agent: AgentsJsAgent): Promise<JobProcess> {
  let proc = processes.get(file);
  if (!proc) {
    proc = (async () => {
      const { JobProcess } = await import('@livekit/agents');
      const p = new JobProcess();
      await agent.prewarm?.(p);
      return p;
    })();
    proc.catch(() => processes.delete(file));
    processes.set(file, proc);
  }
  return proc;
}

/**
 * The openrtc definition an entry agent is registered under. Its `prewarm` runs the module's
 * agents-js prewarm in this worker; its `agent` refuses the local transport, which has no room.
 */
export function entryAgentDefinition(file: string, agent: AgentsJsAgent, name?: string): AgentDefinition {
  return {
    ...(name ? { name } : {}),
    agent: () => {
      throw new EntryAgentNeedsRoomError(file);
    },
    prewarm: async () => {
      await agentProcess(file, agent);
    },
  };
}
