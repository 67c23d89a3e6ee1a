import type { Job } from '@livekit/protocol';
import { type RouteVia, routeJob } from '../../actors/routing.ts';
import type { AgentSpec } from '../../protocol/index.ts';

export type Availability =
  | { accept: true; agent: string; via: RouteVia | 'registration' }
  | { accept: false; reason: string };

/** The routing input of a LiveKit job: its metadata, and the room's (empty before anyone connects). */
export function routeRequestOf(job: Job) {
  return {
    room: job.room?.name ?? '',
    metadata: job.metadata,
    roomMetadata: job.room?.metadata ?? '',
  };
}

/** Session slots: placed sessions, slots held for accepted jobs awaiting assignment, and capacity. */
export interface Slots {
  active: number;
  capacity: number;
  reserved?: number;
}

/**
 * Whether the pool takes a job LiveKit offers. A registration under an agent's own name serves
 * that agent; any other is routed (with `explicitOnly`, by metadata or room prefix only). Then a
 * slot must be free, counting those already promised to accepted jobs. Pure.
 */
export function decideAvailability(
  registry: readonly AgentSpec[],
  job: Job,
  slots: Slots,
  opts: { explicitOnly?: boolean; draining?: boolean; agent?: string } = {},
): Availability {
  if (opts.draining) return { accept: false, reason: 'the pool is draining' };
  let agent: string;
  let via: RouteVia | 'registration';
  if (opts.agent !== undefined) {
    if (!registry.some((a) => a.name === opts.agent)) {
      return { accept: false, reason: `unknown_agent: no agent '${opts.agent}' in this pool` };
    }
    agent = opts.agent;
    via = 'registration';
  } else {
    const route = routeJob(registry, {
      job: routeRequestOf(job),
      ...(opts.explicitOnly ? { explicitOnly: true } : {}),
    });
    if (!route.ok) return { accept: false, reason: `${route.error.code}: ${route.error.message}` };
    agent = route.agent.name;
    via = route.via;
  }
  const reserved = slots.reserved ?? 0;
  if (slots.active + reserved >= slots.capacity) {
    return {
      accept: false,
      reason: `no_capacity: ${slots.active} of ${slots.capacity} session slots in use on ready workers${reserved ? `, ${reserved} held for accepted jobs` : ''}`,
    };
  }
  return { accept: true, agent, via };
}

/**
 * Slots held for accepted jobs until their assignment arrives (or `timeoutMs` passes, or their
 * connection closes), so a burst of offers is never over-accepted.
 */
export class Reservations {
  private readonly held = new Map<string, { agent: string; link: number; timer: NodeJS.Timeout }>();

  constructor(private readonly onExpire: (jobId: string) => void) {}

  get size(): number {
    return this.held.size;
  }

  hold(jobId: string, agent: string, link: number, timeoutMs: number): void {
    this.release(jobId);
    const timer = setTimeout(() => {
      this.held.delete(jobId);
      this.onExpire(jobId);
    }, timeoutMs);
    timer.unref();
    this.held.set(jobId, { agent, link, timer });
  }

  /** The held slot's agent, releasing it; undefined if none is held for the job. */
  release(jobId: string): string | undefined {
    const r = this.held.get(jobId);
    if (!r) return undefined;
    clearTimeout(r.timer);
    this.held.delete(jobId);
    return r.agent;
  }

  /** Releases every slot held on this connection (it closed: no assignment will come). */
  releaseLink(link: number): number {
    let n = 0;
    for (const [jobId, r] of this.held) {
      if (r.link !== link) continue;
      this.release(jobId);
      n++;
    }
    return n;
  }

  clear(): void {
    for (const jobId of [...this.held.keys()]) this.release(jobId);
  }
}
