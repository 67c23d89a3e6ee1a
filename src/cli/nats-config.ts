import { chmodSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generatePoolUsers, natsAuthorizationConfig } from '../runtime/nats/permissions.ts';
import { CliError } from './errors.ts';

export { cliNatsAuth, cliNatsConnect } from './nats-auth.ts';
export { addNatsAuthOptions, clientNames, workerIds } from './nats-flags.ts';

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
