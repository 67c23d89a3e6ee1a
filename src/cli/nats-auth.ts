// A command's NATS credentials. Apart from nats-config.ts (which also writes server configs and
// loads the JetStream clients for its permission list), so that a worker or a client command
// loads only what connecting needs.
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import {
  NatsAuthError,
  type NatsAuthFlags,
  type NatsRole,
  natsConnectOptions,
  natsInboxPrefix,
} from '../runtime/nats/auth.ts';
import { CliError } from './errors.ts';

/** Credentials from a command's flags and the environment; a wrong one is a CliError (exit 2, no stack). */
export function cliNatsAuth(
  flags: NatsAuthFlags,
  env: NodeJS.ProcessEnv = process.env,
): Partial<NodeConnectionOptions> {
  try {
    return natsConnectOptions(flags, env);
  } catch (err) {
    if (err instanceof NatsAuthError) throw new CliError(err.message);
    throw err;
  }
}

/** Credentials plus the role's reply inbox, for a command whose role (and worker id) is known. */
export function cliNatsConnect(
  opts: NatsAuthFlags & { pool: string },
  role: NatsRole,
  env: NodeJS.ProcessEnv = process.env,
): Partial<NodeConnectionOptions> {
  return { ...cliNatsAuth(opts, env), inboxPrefix: natsInboxPrefix(opts.pool, role) };
}
