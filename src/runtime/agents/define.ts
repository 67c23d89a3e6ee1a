import { basename, extname } from 'node:path';
import type { JobContext, VAD, voice } from '@livekit/agents';
import { z } from 'zod';
import {
  AgentName,
  AgentSpec,
  Greeting,
  type ProviderDefaults,
  SessionLimits,
} from '../../protocol/agent.ts';

type SessionOptions = voice.AgentSessionOptions;
type Awaitable<T> = T | Promise<T>;
/** Builds a provider inside the worker, once per session; never called where the module is only listed. */
export type Factory<T> = () => Awaitable<T>;

/**
 * A LiveKit inference model string (e.g. 'openai/gpt-4.1-mini'), passed through to AgentSession,
 * or a factory. Not an instance: the module is also imported where agents are only listed, and
 * one instance would be shared by every session.
 */
export type Provider<T> = Extract<T, string> | Factory<T>;

export interface AgentProviders {
  stt?: Provider<NonNullable<SessionOptions['stt']>>;
  llm?: Provider<NonNullable<SessionOptions['llm']>>;
  tts?: Provider<NonNullable<SessionOptions['tts']>>;
  /** Default 'shared': the worker's Silero VAD. `null`: no VAD (and no speech events). */
  vad?: 'shared' | null | Factory<VAD>;
}

/** AgentSession options other than the providers. */
export type SessionExtras = Omit<SessionOptions, 'stt' | 'llm' | 'tts' | 'vad'>;

export type AgentClass = new () => voice.Agent;

/** What an agent module's default export describes. Only `toAgentSpec` of it ever leaves the worker. */
export interface AgentDefinition {
  /** Routes jobs to this agent; defaults to the module's file stem. */
  name?: string;
  /** Said (`say`) or generated (`instructions`) once the session starts. */
  greeting?: Greeting;
  /** Fail the session when the greeting fails (default: log it and carry on). */
  greetingRequired?: boolean;
  limits?: SessionLimits;
  providers?: AgentProviders;
  /** Extra AgentSession options; a factory runs inside the worker for each session. */
  session?: SessionExtras | Factory<SessionExtras>;
  /** The voice.Agent subclass (constructed with no arguments) or a factory of an agent. */
  agent: AgentClass | Factory<voice.Agent>;
  /** Plain JSON the registry carries with the agent (provider names, settings). */
  options?: Record<string, z.core.util.JSONType>;
  /**
   * Runs once per worker process, before it reports ready (agents-js's `prewarm`): load what
   * every session of this agent shares. A throw fails the worker's prewarm; the supervisor's
   * restart policy then decides.
   */
  prewarm?: () => Awaitable<void>;
  /**
   * LiveKit sessions only, as agents-js's `onSessionEnd`: runs in the job's context after the
   * AgentSession closed and before the room is left; `ctx.makeSessionReport()` gives its report.
   */
  onSessionEnd?: (ctx: JobContext) => Awaitable<void>;
}

const BRAND = Symbol.for('openrtc.agentDefinition');

export type DefinedAgent = AgentDefinition & { readonly [BRAND]: true };

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');
const providerField = z.union([z.string().min(1), fn], 'must be a model string or a factory').optional();

const DefinitionShape = z.object({
  name: AgentName.optional(),
  greeting: Greeting.optional(),
  greetingRequired: z.boolean().optional(),
  limits: SessionLimits.optional(),
  providers: z
    .object({
      stt: providerField,
      llm: providerField,
      tts: providerField,
      vad: z.union([z.literal('shared'), z.null(), fn]).optional(),
    })
    .strict()
    .optional(),
  session: z.union([z.object({}).passthrough(), fn]).optional(),
  agent: fn,
  prewarm: fn.optional(),
  onSessionEnd: fn.optional(),
  options: z.record(z.string(), z.json()).optional(),
});

/** What a pool supplies to agents that leave it unset: a greeting and provider model strings. */
export interface PoolDefaults {
  greeting?: Greeting;
  providers?: ProviderDefaults;
}

/** The definition with pool defaults filled in where the module set nothing; the module always wins. */
export function withDefaults(def: AgentDefinition, defaults: PoolDefaults | undefined): AgentDefinition {
  if (!defaults) return def;
  const providers = { ...def.providers };
  for (const key of ['stt', 'llm', 'tts'] as const) {
    const model = defaults.providers?.[key];
    if (providers[key] === undefined && model !== undefined)
      (providers as Record<string, unknown>)[key] = model;
  }
  const greeting = def.greeting ?? defaults.greeting;
  return { ...def, ...(greeting ? { greeting } : {}), providers };
}

/** An agent definition that does not have the right shape; the message names each failing field. */
export class AgentDefinitionError extends Error {
  override name = 'AgentDefinitionError';
}

/** Checks a definition's shape; throws AgentDefinitionError listing what is wrong. */
export function validateDefinition(def: unknown): AgentDefinition {
  const parsed = DefinitionShape.safeParse(def);
  if (!parsed.success) throw new AgentDefinitionError(z.prettifyError(parsed.error));
  return def as AgentDefinition;
}

/** Marks and checks an agent module's default export: `export default defineAgent({...})`. */
export function defineAgent(def: AgentDefinition): DefinedAgent {
  validateDefinition(def);
  return Object.freeze({ ...def, [BRAND]: true as const });
}

/** True for what `defineAgent` returned. */
export function isDefinedAgent(value: unknown): value is DefinedAgent {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** The name an agent gets from its module path when it sets none: the file stem. */
export function nameFromPath(modulePath: string): string {
  return basename(modulePath, extname(modulePath));
}

/** The plain data the registry holds for an agent: name, module path, greeting, limits, options. */
export function toAgentSpec(def: AgentDefinition, modulePath: string): AgentSpec {
  const name = def.name ?? nameFromPath(modulePath);
  const named = AgentName.safeParse(name);
  if (!named.success) {
    throw new AgentDefinitionError(
      `name ${JSON.stringify(name)} (${def.name ? 'set in the definition' : 'from the file name'}) ${named.error.issues[0]?.message}`,
    );
  }
  const limits =
    def.greetingRequired === undefined
      ? def.limits
      : { ...def.limits, greetingRequired: def.greetingRequired };
  return AgentSpec.parse({
    name,
    module: modulePath,
    ...(def.greeting ? { greeting: def.greeting } : {}),
    ...(limits ? { limits } : {}),
    ...(def.options ? { options: def.options } : {}),
  });
}
