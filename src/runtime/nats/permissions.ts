import { randomBytes } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';
import { subjects } from '../../protocol/index.ts';
import { leaseBucket } from '../ops/lease.ts';
import { recordNames } from '../ops/record.ts';
import { type NatsRole, natsInboxPrefix } from './auth.ts';

/** How a user signs in: a password (plain, or a bcrypt hash nats-server recognizes by `$2a$`), or an nkey. */
export type NatsCredential = { user: string; password: string } | { nkey: string };

/** Every user of one pool's NATS, by role. */
export interface NatsPoolUsers {
  pool: string;
  supervisor: NatsCredential;
  workers: Array<NatsCredential & { id: string }>;
  clients: NatsCredential[];
}

/** nats-server's permission map for one user. */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** May publish once to the reply subject of each request it received, and nowhere else in _INBOX. */
  allow_responses?: boolean;
}

/**
 * The least a role needs, built only from subjects(pool):
 * - supervisor: everything under the pool and its inboxes (it writes or reads every reply there
 *   anyway), so local workers may share its credentials; replies to hellos and dispatches; and the
 *   JetStream API of its own lease bucket and record stream only (`supervisorJetStream`);
 * - worker: publishes only its own hello, events and inspect subjects (and replies to its commands),
 *   subscribes only to its own command subject, the broadcast and its own reply inbox;
 * - client: requests dispatch and status, watches inspect events, and reads its replies.
 */
export function rolePermissions(pool: string, role: NatsRole): NatsPermissions {
  const s = subjects(pool);
  const inbox = `${natsInboxPrefix(pool, role)}.>`;
  switch (role.kind) {
    case 'supervisor':
      return {
        publish: { allow: [s.all, ...supervisorJetStream(pool)] },
        subscribe: { allow: [s.all, `${natsInboxPrefix(pool)}.>`] },
        allow_responses: true,
      };
    case 'worker':
      return {
        publish: { allow: [s.hello(role.id), s.events(role.id), s.inspect(role.id)] },
        subscribe: { allow: [s.workerCmd(role.id), s.broadcast, inbox] },
        allow_responses: true,
      };
    case 'client':
      return {
        publish: { allow: [s.dispatch, s.status, s.history] },
        subscribe: { allow: [s.inspectAll, inbox] },
      };
  }
}

/**
 * The JetStream subjects a supervisor publishes to (docs/operations.md): the API calls on its
 * leadership lease's KV bucket (ops/lease.ts) and on its durable record's stream (ops/record.ts),
 * and the data subjects of both. Nothing of any other stream or bucket; replies come to its inbox.
 */
export function supervisorJetStream(pool: string): string[] {
  const kv = `KV_${leaseBucket(pool)}`;
  const { stream, prefix } = recordNames(pool);
  const api = '$JS.API';
  // Exactly the calls these clients make (watched on a nats-server 2.9.10 with @nats-io/jetstream 3).
  return [
    // jetstream() checks the account once.
    `${api}.INFO`,
    // The lease: create the bucket (idempotent), read the key (direct get), create/update/delete it.
    `${api}.STREAM.INFO.${kv}`,
    `${api}.STREAM.CREATE.${kv}`,
    `${api}.DIRECT.GET.${kv}.>`,
    `$KV.${leaseBucket(pool)}.>`,
    // The record: create or update the stream, write and read a session, load the newest ones
    // through an ordered consumer.
    `${api}.STREAM.INFO.${stream}`,
    `${api}.STREAM.CREATE.${stream}`,
    `${api}.STREAM.UPDATE.${stream}`,
    `${api}.STREAM.MSG.GET.${stream}`,
    `${api}.CONSUMER.CREATE.${stream}.>`,
    `${api}.CONSUMER.MSG.NEXT.${stream}.>`,
    `${prefix}.*`,
  ];
}

/** A nats-server config (`authorization { users = [...] }`) giving each role only what it needs. */
export function natsAuthorizationConfig(users: NatsPoolUsers): string {
  const { pool } = users;
  subjects(pool); // validates the pool name
  const seen = new Set<string>();
  const entry = (cred: NatsCredential, role: NatsRole, label: string) => {
    const permissions = rolePermissions(pool, role);
    if ('nkey' in cred) {
      checkNkey(cred.nkey, label);
      claim(seen, cred.nkey, label);
      return { nkey: cred.nkey, permissions };
    }
    checkUser(cred, label);
    claim(seen, cred.user, label);
    return { user: cred.user, password: cred.password, permissions };
  };
  const workerIds = new Set<string>();
  const list = [
    entry(users.supervisor, { kind: 'supervisor' }, 'supervisor'),
    ...users.workers.map((w) => {
      if (workerIds.has(w.id)) throw new TypeError(`worker id '${w.id}' is listed twice`);
      workerIds.add(w.id);
      return entry(w, { kind: 'worker', id: w.id }, `worker ${w.id}`);
    }),
    ...users.clients.map((c, i) => entry(c, { kind: 'client' }, `client ${i + 1}`)),
  ];
  const body = format(list, '  ');
  return [
    `# openrtc pool '${pool}': one nats-server user per role, least privilege (docs/security.md).`,
    '# Generated by `openrtc nats-config`. Passwords are plain text: keep this file private.',
    'authorization {',
    `  users = ${body}`,
    '}',
    '',
  ].join('\n');
}

/** A random password: 24 bytes of base64url (no characters that need quoting anywhere). */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

/** A pool's users as `openrtc nats-config` makes them: password users with readable names. */
export interface GeneratedPoolUsers {
  pool: string;
  supervisor: { user: string; password: string };
  workers: Array<{ id: string; user: string; password: string }>;
  clients: Array<{ name: string; user: string; password: string }>;
}

/** User names and fresh passwords for a pool: `<pool>-supervisor`, `<pool>-worker-<id>`, `<pool>-client-<name>`. */
export function generatePoolUsers(opts: {
  pool: string;
  workers: readonly string[];
  clients?: readonly string[];
}): GeneratedPoolUsers {
  const { pool } = opts;
  return {
    pool,
    supervisor: { user: `${pool}-supervisor`, password: generatePassword() },
    workers: opts.workers.map((id) => ({ id, user: `${pool}-worker-${id}`, password: generatePassword() })),
    clients: (opts.clients ?? ['app']).map((name) => ({
      name,
      user: `${pool}-client-${name}`,
      password: generatePassword(),
    })),
  };
}

function claim(seen: Set<string>, name: string, label: string): void {
  if (seen.has(name)) throw new TypeError(`${label}: user '${name}' is already taken by another role`);
  seen.add(name);
}

function checkUser(cred: { user: string; password: string }, label: string): void {
  // The user name never is a secret; the password is never quoted back in an error.
  if (!/^[A-Za-z0-9_.@-]{1,128}$/.test(cred.user)) {
    throw new TypeError(`${label}: user name '${cred.user}' must be 1-128 of A-Z a-z 0-9 _ . @ -`);
  }
  if (cred.password.length < 8) throw new TypeError(`${label}: the password is shorter than 8 characters`);
  if (/\p{Cc}/u.test(cred.password)) throw new TypeError(`${label}: the password holds a control character`);
}

function checkNkey(key: string, label: string): void {
  try {
    if (key.startsWith('U')) {
      nkeys.fromPublic(key);
      return;
    }
  } catch {
    // falls through to the error below
  }
  throw new TypeError(`${label}: '${key}' is not a user nkey public key (U...)`);
}

/**
 * JSON laid out for people: short objects and string lists on one line. nats-server's config
 * format reads JSON values, so JSON.stringify quotes every string safely.
 */
function format(value: unknown, indent: string): string {
  const flat = JSON.stringify(value, null, 1)
    .replace(/\n\s*/g, ' ')
    .replace(/([[{]) /g, '$1')
    .replace(/ ([\]}])/g, '$1');
  if (flat.length + indent.length <= 100 || value === null || typeof value !== 'object') return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + format(v, inner)).join(',\n')}\n${indent}]`;
  const fields = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`);
  return `{\n${fields.join(',\n')}\n${indent}}`;
}
