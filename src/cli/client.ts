import { PoolClient } from '../runtime/client.ts';
import { createLogger } from '../runtime/logger.ts';
import type { NatsAuthFlags } from '../runtime/nats/auth.ts';
import { CliError } from './errors.ts';
import { cliNatsAuth } from './nats-auth.ts';

/**
 * The pool client of a client command (`status`, `dispatch`, `rollout`): the pool at --nats (or
 * NATS_URL, or the recorded `openrtc dev`, resolved before this), with the command's credentials.
 */
export function connectClient(
  command: string,
  flags: NatsAuthFlags & { nats?: string; pool: string },
): Promise<PoolClient> {
  if (!flags.nats) throw new CliError(`${command} needs --nats or NATS_URL`);
  return PoolClient.connect({
    url: flags.nats,
    pool: flags.pool,
    log: createLogger({ level: 'warn' }),
    natsAuth: cliNatsAuth(flags),
  });
}
