import { readFileSync } from 'node:fs';
import {
  credsAuthenticator,
  type NodeConnectionOptions,
  nkeyAuthenticator,
  nkeys,
} from '@nats-io/transport-node';
import { subjects } from '../../protocol/index.ts';

export { NATS_AUTH_ENV, type NatsAuthFlags } from './auth-env.ts';

import { NATS_AUTH_ENV, type NatsAuthFlags } from './auth-env.ts';

type Field = keyof NatsAuthFlags;

/** A credential given wrongly: the message names the flag or variable (and path), never a secret. */
export class NatsAuthError extends Error {
  override readonly name = 'NatsAuthError';
}

interface Given {
  value: string;
  /** `--nats-user` or `NATS_USER`: where the value came from, for error messages. */
  source: string;
}

const SEED = /SU[A-Z2-7]{56}/;
const CREDS_JWT = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*(\S+)\s*\n/;
const CREDS_SEED = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*(SU[A-Z2-7]{56})\s*\n/;

/**
 * Builds nats.js connection options (credentials, TLS) from flags and environment. Throws a
 * NatsAuthError naming the flag/variable for an unreadable or malformed file, a half-given
 * user/password or cert/key pair, and for more than one way to authenticate.
 */
export function natsConnectOptions(
  flags: NatsAuthFlags,
  env: NodeJS.ProcessEnv = process.env,
): Partial<NodeConnectionOptions> {
  return resolve(flags, env).options;
}

/** One line saying how this process authenticates, safe to log: no password, token or seed. */
export function natsAuthSummary(flags: NatsAuthFlags, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flags, env).summary;
}

/** Who a connection speaks for: replies to its requests arrive under its own inbox prefix. */
export type NatsRole = { kind: 'supervisor' } | { kind: 'worker'; id: string } | { kind: 'client' };

/**
 * The reply-inbox prefix of a role (nats.js `inboxPrefix`), so server permissions can pin each
 * worker to its own replies; without a role, the prefix of every inbox of the pool. It starts with
 * `_INBOX.` because the codec knows replies by that.
 * TODO(lead): move into subjects(pool) as `inbox(role?)`; it is here only because subjects.ts is
 * not this module's to edit.
 */
export function natsInboxPrefix(pool: string, role?: NatsRole): string {
  const s = subjects(pool);
  if (!role) return `_INBOX.${s.prefix}`;
  if (role.kind === 'worker') {
    s.workerCmd(role.id); // validates the id as a subject token
    return `_INBOX.${s.prefix}.worker.${role.id}`;
  }
  return `_INBOX.${s.prefix}.${role.kind}`;
}

/**
 * The resolved credentials as NATS_* variables (flags folded in), for a child process such as a
 * local worker: environment, not argv, so no secret shows in `ps`.
 */
export function natsAuthEnv(
  flags: NatsAuthFlags,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  resolve(flags, env); // refuses what the parent itself would refuse
  const out: Record<string, string> = {};
  for (const [field, name] of Object.entries(NATS_AUTH_ENV) as Array<[Field, string]>) {
    const value = flags[field] || env[name];
    if (value) out[name] = value;
  }
  return out;
}

function resolve(flags: NatsAuthFlags, env: NodeJS.ProcessEnv) {
  const get = (field: Field): Given | undefined => {
    const flag = flags[field];
    if (flag !== undefined && flag !== '') return { value: flag, source: flagName(field) };
    const name = NATS_AUTH_ENV[field];
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: name };
    return undefined;
  };
  const user = get('natsUser');
  const password = get('natsPassword');
  const token = get('natsToken');
  const nkey = get('natsNkey');
  const creds = get('natsCreds');

  const methods = [
    (user ?? password) ? { name: 'user/password', by: (user ?? password)?.source } : undefined,
    token ? { name: 'token', by: token.source } : undefined,
    nkey ? { name: 'nkey', by: nkey.source } : undefined,
    creds ? { name: 'creds file', by: creds.source } : undefined,
  ].filter((m) => m !== undefined);
  if (methods.length > 1) {
    throw new NatsAuthError(
      `choose one way to authenticate to NATS, got ${methods.map((m) => `${m.name} (${m.by})`).join(' and ')}`,
    );
  }

  const options: Partial<NodeConnectionOptions> = {};
  let summary = 'no credentials';
  if (user || password) {
    if (!user)
      throw new NatsAuthError(`${password?.source} is set but no user: add --nats-user or NATS_USER`);
    if (!password) {
      throw new NatsAuthError(
        `${user.source} is set but no password: add NATS_PASSWORD (or --nats-password)`,
      );
    }
    options.user = user.value;
    options.pass = password.value;
    summary = `user '${user.value}' (password from ${password.source})`;
  } else if (token) {
    options.token = token.value;
    summary = `token (from ${token.source})`;
  } else if (nkey) {
    const seed = nkeySeed(nkey);
    const publicKey = nkeys.fromSeed(seed).getPublicKey();
    options.authenticator = nkeyAuthenticator(seed);
    summary = `nkey ${publicKey} (from ${nkey.source})`;
  } else if (creds) {
    checkCreds(creds);
    // A function, so a reconnect re-reads the file and picks up rotated credentials.
    options.authenticator = credsAuthenticator(() => readFileSync(creds.value));
    summary = `creds file ${creds.value} (from ${creds.source})`;
  }

  const ca = get('natsCa');
  const cert = get('natsCert');
  const key = get('natsKey');
  if (cert && !key) throw new NatsAuthError(`${cert.source} needs a client key: add --nats-key or NATS_KEY`);
  if (key && !cert)
    throw new NatsAuthError(`${key.source} needs a client cert: add --nats-cert or NATS_CERT`);
  if (ca || cert) {
    const tls: NonNullable<NodeConnectionOptions['tls']> = {};
    if (ca) tls.caFile = pemFile(ca, 'CERTIFICATE');
    if (cert && key) {
      tls.certFile = pemFile(cert, 'CERTIFICATE');
      tls.keyFile = pemFile(key, 'PRIVATE KEY');
    }
    options.tls = tls;
    summary += `, TLS${ca ? ` (CA ${ca.value})` : ''}${cert ? ` (client cert ${cert.value})` : ''}`;
  }
  return { options, summary };
}

function flagName(field: Field): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function readText(given: Given, what: string): string {
  try {
    return readFileSync(given.value, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new NatsAuthError(`${given.source}: cannot read ${what} ${given.value} (${reason})`);
  }
}

/** An nkey seed: a file holding one, or (handy for container secrets) the seed itself. */
function nkeySeed(given: Given): Uint8Array {
  const inline = /^SU[A-Z2-7]{56}$/.test(given.value);
  const text = inline ? given.value : readText(given, 'nkey seed file');
  const where = inline ? given.source : `${given.source} (${given.value})`;
  const found = SEED.exec(text)?.[0];
  if (!found) throw new NatsAuthError(`${where}: no user nkey seed (a line starting with SU) found`);
  const seed = new TextEncoder().encode(found);
  try {
    nkeys.fromSeed(seed);
  } catch {
    throw new NatsAuthError(`${where}: the nkey seed is not valid (bad checksum or encoding)`);
  }
  return seed;
}

function checkCreds(given: Given): void {
  const text = readText(given, 'creds file');
  if (!CREDS_JWT.test(text) || !CREDS_SEED.test(text)) {
    throw new NatsAuthError(
      `${given.source}: ${given.value} is not a NATS .creds file (it needs a "BEGIN NATS USER JWT" and a "BEGIN USER NKEY SEED" block)`,
    );
  }
}

function pemFile(given: Given, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const text = readText(given, kind === 'CERTIFICATE' ? 'certificate' : 'private key');
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(text)) {
    throw new NatsAuthError(`${given.source}: ${given.value} is not a PEM ${kind.toLowerCase()}`);
  }
  return given.value;
}
