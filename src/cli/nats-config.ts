import { chmodSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  NATS_AUTH_ENV,
  NatsAuthError,
  type NatsAuthFlags,
  type NatsRole,
  natsConnectOptions,
  natsInboxPrefix,
} from '../runtime/nats/auth.ts';
import { generatePoolUsers, natsAuthorizationConfig } from '../runtime/nats/permissions.ts';
import { CliError } from './errors.ts';
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

export interface NatsConfigOptions {
  pool: string;
  workers: string[];
  clients?: string[];
  /** Write the config here (mode 600); otherwise it goes to stdout. */
  out?: string;
  /** Replace an existing --out file. */
  force?: boolean;
  /** Print the credentials (and, without --out, the config) as JSON. */
  json?: boolean;
}

/**
 * `openrtc nats-config`: writes a nats-server config with one least-privilege user per role and
 * fresh passwords, and prints the credentials each process needs. Returns the exit code.
 */
export function natsConfigCommand(
  opts: NatsConfigOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
): number {
  const users = generatePoolUsers({ pool: opts.pool, workers: opts.workers, clients: opts.clients });
  const config = natsAuthorizationConfig(users);
  const file = opts.out === undefined ? undefined : resolve(opts.out);
  if (file) {
    try {
      writeFileSync(file, config, { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
      chmodSync(file, 0o600); // an overwritten file keeps its old mode otherwise
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CliError(`--out ${file} exists: pass --force to replace it`);
      throw new CliError(`--out ${file}: cannot write (${code ?? (err as Error).message})`);
    }
  }
  const env = (c: { user: string; password: string }) => ({ NATS_USER: c.user, NATS_PASSWORD: c.password });
  if (opts.json) {
    const out = {
      pool: opts.pool,
      ...(file ? { configFile: file } : { config }),
      supervisor: { ...users.supervisor, env: env(users.supervisor) },
      workers: users.workers.map((w) => ({ ...w, env: env(w) })),
      clients: users.clients.map((c) => ({ ...c, env: env(c) })),
    };
    write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  if (!file) {
    write(config);
    return 0;
  }
  const line = (who: string, c: { user: string; password: string }, run: string) =>
    `  ${who.padEnd(14)} NATS_USER=${c.user} NATS_PASSWORD=${c.password} ${run}\n`;
  write(
    [
      `Wrote the nats-server config of pool '${opts.pool}' to ${file} (mode 600: it holds the passwords).\n`,
      `Start the server:  nats-server -c ${file}\n`,
      'Give each process only its own credentials, through the environment (flags show in ps):\n',
      line('supervisor', users.supervisor, `openrtc supervisor --pool ${opts.pool} --nats URL`),
      ...users.workers.map((w) =>
        line(`worker ${w.id}`, w, `openrtc worker --pool ${opts.pool} --id ${w.id} --nats URL`),
      ),
      ...users.clients.map((c) =>
        line(`client ${c.name}`, c, `openrtc status --pool ${opts.pool} --nats URL`),
      ),
      'Local workers (openrtc start --workers N) are the supervisor’s children and use its credentials.\n',
    ].join(''),
  );
  return 0;
}
