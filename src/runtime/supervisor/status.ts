import type { SupervisorContext } from '../../actors/supervisor.types.ts';
import type { ErrorData, MessageOf } from '../../protocol/index.ts';

type StatusBody = Omit<MessageOf<'status.ok'>, 'v' | 'id' | 'ts' | 'from' | 'type'>;

/** The status reply, from the supervisor machine's context and the rejection counters. */
export function buildStatus(
  ref: string,
  ctx: SupervisorContext,
  workerErrors: ReadonlyMap<string, ErrorData>,
  ...counters: Readonly<Record<string, number>>[]
): StatusBody {
  const rejected: Record<string, number> = {};
  for (const source of [ctx.rejected, ...counters]) {
    for (const [reason, n] of Object.entries(source)) rejected[reason] = (rejected[reason] ?? 0) + n;
  }
  return {
    ref,
    pool: ctx.pool,
    health: ctx.health,
    workers: Object.values(ctx.workers)
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
        ...(workerErrors.has(w.id) ? { error: workerErrors.get(w.id) as ErrorData } : {}),
      })),
    sessions: Object.values(ctx.sessions)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((x) => ({
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
  };
}
