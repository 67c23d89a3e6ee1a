import type { Job } from '@livekit/protocol';
import { type RouteVia, routeJob } from '../../actors/routing.ts';
import type { AgentSpec } from '../../protocol/index.ts';

export type Availability = { accept: true; agent: string; via: RouteVia } | { accept: false; reason: string };

/** The routing input of a LiveKit job: its metadata, and the room's (empty before anyone connects). */
export function routeRequestOf(job: Job) {
  return {
    room: job.room?.name ?? '',
    metadata: job.metadata,
    roomMetadata: job.room?.metadata ?? '',
  };
}

/**
 * Whether the pool takes a job LiveKit offers: routing must name a registered agent (with
 * `explicitOnly`, by metadata or room prefix only) and a worker must have a free slot. Pure.
 */
export function decideAvailability(
  registry: readonly AgentSpec[],
  job: Job,
  load: { active: number; capacity: number },
  opts: { explicitOnly?: boolean; draining?: boolean } = {},
): Availability {
  if (opts.draining) return { accept: false, reason: 'the pool is draining' };
  const route = routeJob(registry, {
    job: routeRequestOf(job),
    ...(opts.explicitOnly ? { explicitOnly: true } : {}),
  });
  if (!route.ok) return { accept: false, reason: `${route.error.code}: ${route.error.message}` };
  if (load.active >= load.capacity) {
    return {
      accept: false,
      reason: `no_capacity: ${load.active} of ${load.capacity} session slots in use on ready workers`,
    };
  }
  return { accept: true, agent: route.agent.name, via: route.via };
}
