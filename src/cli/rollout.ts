import type { MessageOf } from '../protocol/index.ts';
import type { NatsAuthFlags } from '../runtime/nats/auth.ts';
import { RequestFailedError } from '../runtime/nats/bus.ts';
import { connectClient } from './client.ts';
import { CliError } from './errors.ts';

/**
 * `openrtc rollout`: asks the leading supervisor for a rolling upgrade and waits for its outcome.
 * Exit 0: the new generation serves and the old one drains; 1: it failed, the old one serves on.
 */
export async function rolloutCommand(
  flags: NatsAuthFlags & { nats?: string; pool: string; timeout: number; json?: boolean },
): Promise<number> {
  const client = await connectClient('rollout', flags);
  try {
    // The reply comes once the new generation is ready (or failed): wait a little longer than it may take.
    const reply = await client.rollout(flags.timeout, flags.timeout + 10_000);
    process.stdout.write(flags.json ? `${JSON.stringify(reply.rollout)}\n` : formatRollout(reply.rollout));
    return 0;
  } catch (err) {
    if (err instanceof RequestFailedError) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ error: err.error })}\n`);
      throw new CliError(`rollout of pool '${flags.pool}' failed: ${err.error.message}`, 1);
    }
    throw err;
  } finally {
    await client.close();
  }
}

function formatRollout(r: MessageOf<'rollout.ok'>['rollout']): string {
  const took = r.endedAt === null ? '' : ` in ${((r.endedAt - r.startedAt) / 1000).toFixed(1)} s`;
  return [
    `generation ${r.generation} serves${took}: ${r.workers.length ? r.workers.join(', ') : '(no new local workers)'}`,
    `draining: ${r.drained.length ? r.drained.join(', ') : '(nothing older)'}`,
    '',
  ].join('\n');
}
