import type { AgentSpec, ErrorData } from '../protocol/index.ts';

/**
 * Which agent serves a job, following OpenRTC's chain. The first rule that names an agent wins;
 * a name that is not registered is an error, never a silent fallback to the next rule.
 *   0. the agent a dispatch asks for by name           via 'dispatch'
 *   1. job metadata `agent`    2. job metadata `demo`   via 'job_metadata'
 *   3. room metadata `agent`   4. room metadata `demo`  via 'room_metadata'
 *   5. room name starting with `<name>-` (registry order) via 'room_prefix'
 *   6. the first registered agent                       via 'default' (not with explicitOnly)
 */

/** Metadata as a JSON-object string or an object. Anything else names no agent. */
export type Metadata = string | Readonly<Record<string, unknown>> | null | undefined;

export interface RouteRequest {
  /** An agent named by the dispatch itself. */
  agent?: string | null;
  job?: { room?: string | null; metadata?: Metadata; roomMetadata?: Metadata } | null;
  /** Refuse the first-registered fallback: some rule must name the agent. */
  explicitOnly?: boolean;
}

export type RouteVia = 'dispatch' | 'job_metadata' | 'room_metadata' | 'room_prefix' | 'default';

export type RouteResult = { ok: true; agent: AgentSpec; via: RouteVia } | { ok: false; error: ErrorData };

const METADATA_KEYS = ['agent', 'demo'] as const;

/** The agent name a metadata value asks for (`agent` before `demo`), or null when it names none. */
export function agentNameFromMetadata(metadata: Metadata): string | null {
  let value: unknown = metadata;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return null;
    try {
      value = JSON.parse(text);
    } catch {
      return null;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  for (const key of METADATA_KEYS) {
    const name = (value as Record<string, unknown>)[key];
    if (typeof name === 'string' && name.trim() !== '') return name.trim();
  }
  return null;
}

/** Resolves the agent for a job against the registry; pure, never throws. */
export function routeJob(registry: readonly AgentSpec[], request: RouteRequest = {}): RouteResult {
  if (registry.length === 0) {
    return { ok: false, error: { code: 'no_agents', message: 'No agents are registered in the pool' } };
  }
  const byName = (name: string, via: RouteVia, source: string): RouteResult => {
    const agent = registry.find((a) => a.name === name);
    if (agent) return { ok: true, agent, via };
    return {
      ok: false,
      error: {
        code: 'unknown_agent',
        message: `Unknown agent '${name}' requested via ${source}`,
        details: { agent: name, via },
      },
    };
  };

  const dispatched = request.agent?.trim();
  if (dispatched) return byName(dispatched, 'dispatch', 'dispatch');

  const job = request.job ?? {};
  const fromJob = agentNameFromMetadata(job.metadata);
  if (fromJob !== null) return byName(fromJob, 'job_metadata', 'job metadata');
  const fromRoom = agentNameFromMetadata(job.roomMetadata);
  if (fromRoom !== null) return byName(fromRoom, 'room_metadata', 'room metadata');

  const room = job.room ?? '';
  const prefixed = registry.find((a) => room.startsWith(`${a.name}-`));
  if (prefixed) return { ok: true, agent: prefixed, via: 'room_prefix' };

  if (request.explicitOnly) {
    return {
      ok: false,
      error: {
        code: 'no_explicit_agent',
        message:
          'No agent was named by the dispatch, job metadata, room metadata or room-name prefix, and explicitOnly refuses the default agent',
      },
    };
  }
  return { ok: true, agent: registry[0] as AgentSpec, via: 'default' };
}
