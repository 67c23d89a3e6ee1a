// The NATS flags of the CLI. Loaded by every `openrtc` start, so it loads no NATS client.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { NATS_AUTH_ENV, type NatsAuthFlags } from '../runtime/nats/auth-env.ts';
import { subjectToken } from './options.ts';

/** Adds the NATS credential flags (each with its usual environment variable) to a command. */
export function addNatsAuthOptions(cmd: Command): Command {
  const env = (field: keyof NatsAuthFlags) => `(env ${NATS_AUTH_ENV[field]})`;
  return cmd
    .addOption(new Option('--nats-user <user>', `NATS user name ${env('natsUser')}`))
    .addOption(
      new Option(
        '--nats-password <password>',
        `NATS password; prefer the variable, flags show in ps ${env('natsPassword')}`,
      ),
    )
    .addOption(
      new Option(
        '--nats-token <token>',
        `NATS auth token; prefer the variable, flags show in ps ${env('natsToken')}`,
      ),
    )
    .addOption(new Option('--nats-nkey <file>', `NATS user nkey seed file ${env('natsNkey')}`))
    .addOption(new Option('--nats-creds <file>', `NATS .creds file (user JWT and seed) ${env('natsCreds')}`))
    .addOption(
      new Option('--nats-ca <file>', `CA certificate that signed the NATS server's ${env('natsCa')}`),
    )
    .addOption(new Option('--nats-cert <file>', `TLS client certificate for NATS ${env('natsCert')}`))
    .addOption(new Option('--nats-key <file>', `TLS client private key for NATS ${env('natsKey')}`));
}

/** Parses `--workers`: a count N gives w1..wN (the ids local workers get), or a comma-separated id list. */
export function workerIds(value: string): string[] {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < 1 || n > 10_000) throw new InvalidArgumentError(`--workers must be 1-10000, got ${value}`);
    return Array.from({ length: n }, (_, i) => `w${i + 1}`);
  }
  const ids = value.split(',').map((id) => subjectToken('--workers')(id.trim()));
  if (new Set(ids).size !== ids.length)
    throw new InvalidArgumentError(`--workers lists an id twice: ${value}`);
  return ids;
}

/** Parses `--clients`: comma-separated client names. */
export function clientNames(value: string): string[] {
  const names = value.split(',').map((name) => subjectToken('--clients')(name.trim()));
  if (new Set(names).size !== names.length)
    throw new InvalidArgumentError(`--clients lists a name twice: ${value}`);
  return names;
}
