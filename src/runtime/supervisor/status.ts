import { generations } from '../../actors/pool-generations.ts';
import { breakerStatus, tenantCounts } from '../../actors/pool-limits.ts';
import { knownSessions } from '../../actors/pool-views.ts';
import type { RolloutView, SupervisorContext } from '../../actors/supervisor.types.ts';
import type { MessageOf } from '../../protocol/index.ts';

type StatusBody = Omit<MessageOf<'status.ok'>, 'v' | 'id' | 'ts' | 'from' | 'type'>;

/**
 * The status reply: a projection of the supervisor machine's context (workers with their last
 * errors, sessions and the record of ended ones, rejection counters of the supervisor and of each
 * worker), plus the bus's own decode counters.
 */
export function buildStatus(
  ref: string,
  ctx: SupervisorContext,
  busRejected: Readonly<Record<string, number>> = {},
): StatusBody {
  const rejected: Record<string, number> = {};
  const workers = Object.values(ctx.workers);
  for (const source of [ctx.rejected, busRejected, ...workers.map((w) => w.rejected)]) {
    for (const [reason, n] of Object.entries(source)) rejected[reason] = (rejected[reason] ?? 0) + n;
  }
  return {
    ref,
    pool: ctx.pool,
    health: ctx.health,
    workers: workers
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((w) => ({
        worker: w.id,
        epoch: w.epoch,
        pid: w.pid,
        host: w.host,
        state: w.state,
        supervision: w.supervision,
        active: w.active,
        capacity: w.capacity,
        rssBytes: w.rssBytes,
        prewarmMs: w.prewarmMs,
        restarts: w.restarts,
        lastSeen: w.lastSeen,
        ...(w.spare ? { spare: true } : {}),
        ...(w.error ? { error: w.error } : {}),
        generation: w.generation,
        ...(w.code ? { code: w.code } : {}),
      })),
    sessions: knownSessions(ctx).map((x) => ({
      session: x.session,
      agent: x.agent,
      worker: x.worker,
      jobId: x.jobId,
      room: x.room,
      state: x.state,
      seq: x.seq,
      createdAt: x.createdAt,
      since: x.since,
      ...(x.error ? { error: x.error } : {}),
    })),
    rejected,
    ...(ctx.breaker ? { breakers: breakerStatus(ctx) } : {}),
    ...(Object.keys(ctx.limits.tenants).length || ctx.limits.perTenant !== undefined
      ? { tenants: tenantCounts(ctx) }
      : {}),
    generations: generations(ctx),
    ...(ctx.rollout ? { rollout: rolloutStatus(ctx.rollout) } : {}),
  };
}

/** A rollout as status and `rollout.ok` show it. */
export function rolloutStatus(r: RolloutView): NonNullable<StatusBody['rollout']> {
  const { requestId, deadline, ...shown } = r;
  return shown;
}
