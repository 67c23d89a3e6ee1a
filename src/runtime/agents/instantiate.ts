import { type VAD, voice } from '@livekit/agents';
import type { AgentDefinition, Factory, SessionExtras } from './define.ts';

/** What one session is built from, made inside the worker from an agent definition. */
export interface AgentInstance {
  agent: voice.Agent;
  stt?: voice.AgentSessionOptions['stt'];
  llm?: voice.AgentSessionOptions['llm'];
  tts?: voice.AgentSessionOptions['tts'];
  /** 'shared': use the worker's VAD; null: none; else the module's own. */
  vad: 'shared' | null | VAD;
  session: SessionExtras;
}

/** A provider factory or the agent factory failed; the message says which one and why. */
export class AgentInstantiationError extends Error {
  override name = 'AgentInstantiationError';
  constructor(
    readonly field: string,
    cause: unknown,
  ) {
    super(`${field}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function run<T>(field: string, make: () => T | Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (err) {
    throw new AgentInstantiationError(field, err);
  }
}

function isAgentClass(value: unknown): value is new () => voice.Agent {
  return typeof value === 'function' && (value === voice.Agent || value.prototype instanceof voice.Agent);
}

async function provider<T>(
  field: string,
  value: string | Factory<T> | undefined,
): Promise<T | string | undefined> {
  if (value === undefined || typeof value === 'string') return value;
  return run(`providers.${field} factory`, value);
}

/** Builds the agent and providers for one session; factories run here, and only here. */
export async function instantiateAgent(def: AgentDefinition): Promise<AgentInstance> {
  const p = def.providers ?? {};
  const [stt, llm, tts] = await Promise.all([
    provider('stt', p.stt),
    provider('llm', p.llm),
    provider('tts', p.tts),
  ]);
  const vad =
    typeof p.vad === 'function'
      ? await run('providers.vad factory', p.vad)
      : p.vad === undefined
        ? 'shared'
        : p.vad;
  const session =
    typeof def.session === 'function' ? await run('session factory', def.session) : (def.session ?? {});
  const make = def.agent;
  const agent = await run('agent', () =>
    isAgentClass(make) ? new make() : (make as Factory<voice.Agent>)(),
  );
  if (!(agent instanceof voice.Agent)) {
    throw new AgentInstantiationError('agent', new Error('did not produce a voice.Agent'));
  }
  return {
    agent,
    ...(stt !== undefined ? { stt: stt as AgentInstance['stt'] } : {}),
    ...(llm !== undefined ? { llm: llm as AgentInstance['llm'] } : {}),
    ...(tts !== undefined ? { tts: tts as AgentInstance['tts'] } : {}),
    vad,
    session,
  };
}
