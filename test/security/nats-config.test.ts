import { statSync } from 'node:fs';
import { AuthorizationError, type NatsConnection, nkeys } from '@nats-io/transport-node';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.ts';
import {
  addNatsAuthOptions,
  clientNames,
  cliNatsAuth,
  cliNatsConnect,
  natsConfigCommand,
  workerIds,
} from '../../src/cli/nats-config.ts';
import { subjects } from '../../src/protocol/index.ts';
import { natsAuthEnv, natsConnectOptions, natsInboxPrefix } from '../../src/runtime/nats/auth.ts';
import { Bus } from '../../src/runtime/nats/bus.ts';
import {
  generatePoolUsers,
  natsAuthorizationConfig,
  rolePermissions,
  supervisorJetStream,
} from '../../src/runtime/nats/permissions.ts';
import { type RunningNatsServer, startNatsServer } from '../../src/runtime/nats/server.ts';
import { Lease } from '../../src/runtime/ops/lease.ts';
import { DurableRecord } from '../../src/runtime/ops/record.ts';
import { captureLog } from '../support/log.ts';
import { waitFor } from '../support/wait.ts';
import { connectTo, permissionErrors, record, startServerWithConfig, useTempDir } from './support.ts';

const tmp = useTempDir();
const servers: RunningNatsServer[] = [];
const open: NatsConnection[] = [];
afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

async function serve(configFile: string): Promise<RunningNatsServer> {
  const server = await startServerWithConfig(configFile);
  servers.push(server);
  return server;
}

function run(opts: Parameters<typeof natsConfigCommand>[0]): { code: number; out: string } {
  let out = '';
  const code = natsConfigCommand(opts, (t) => {
    out += t;
  });
  return { code, out };
}

describe('natsAuthorizationConfig', () => {
  const pool = 'p1';
  const s = subjects(pool);

  it('pins each worker to subjects carrying its own id, and gives the other roles only theirs', () => {
    expect(rolePermissions(pool, { kind: 'worker', id: 'w7' })).toEqual({
      publish: { allow: [s.hello('w7'), s.events('w7'), s.inspect('w7')] },
      subscribe: {
        allow: [s.workerCmd('w7'), s.broadcast, `${natsInboxPrefix(pool, { kind: 'worker', id: 'w7' })}.>`],
      },
      allow_responses: true,
    });
    expect(rolePermissions(pool, { kind: 'client' })).toEqual({
      publish: { allow: [s.dispatch, s.status, s.history] },
      subscribe: { allow: [s.inspectAll, `${natsInboxPrefix(pool, { kind: 'client' })}.>`] },
    });
    expect(rolePermissions(pool, { kind: 'supervisor' })).toEqual({
      publish: { allow: [s.all, ...supervisorJetStream(pool)] },
      subscribe: { allow: [s.all, `${natsInboxPrefix(pool)}.>`] },
      allow_responses: true,
    });
  });

  it('writes one user per role with its permissions, readable as JSON inside the block', () => {
    const nkey = nkeys.createUser().getPublicKey();
    const text = natsAuthorizationConfig({
      pool,
      supervisor: { user: 'sup', password: 'sup-password' },
      workers: [
        { id: 'w1', user: 'u1', password: 'password-1' },
        { id: 'w2', nkey },
      ],
      clients: [{ user: 'app', password: 'app-password' }],
    });
    const users = JSON.parse(/users = (\[[\s\S]*\])\n\}/.exec(text)?.[1] ?? 'null');
    expect(users.map((u: { user?: string; nkey?: string }) => u.user ?? u.nkey)).toEqual([
      'sup',
      'u1',
      nkey,
      'app',
    ]);
    expect(users[2].permissions).toEqual(rolePermissions(pool, { kind: 'worker', id: 'w2' }));
    expect(text.startsWith('#')).toBe(true);
  });

  it('refuses a user name used twice, a repeated worker id, a short password and a bad nkey', () => {
    const sup = { user: 'sup', password: 'sup-password' };
    const base = { pool, supervisor: sup, clients: [] };
    expect(() =>
      natsAuthorizationConfig({ ...base, workers: [{ id: 'w1', user: 'sup', password: 'other-pass' }] }),
    ).toThrow("worker w1: user 'sup' is already taken by another role");
    expect(() =>
      natsAuthorizationConfig({
        ...base,
        workers: [
          { id: 'w1', user: 'a', password: 'password-a' },
          { id: 'w1', user: 'b', password: 'password-b' },
        ],
      }),
    ).toThrow("worker id 'w1' is listed twice");
    const short = () =>
      natsAuthorizationConfig({ ...base, workers: [{ id: 'w1', user: 'a', password: 'seven77' }] });
    expect(short).toThrow('worker w1: the password is shorter than 8 characters');
    expect(short).not.toThrow(/seven77/);
    expect(() => natsAuthorizationConfig({ ...base, workers: [{ id: 'w1', nkey: 'SUABC' }] })).toThrow(
      /is not a user nkey public key/,
    );
    expect(() => natsAuthorizationConfig({ ...base, pool: 'a.b', workers: [] })).toThrow(/subject token/);
  });

  it('quotes a given password so nats-server reads it back exactly, quotes and dollars included', async () => {
    const password = 'p"a\\ss $word {x}';
    const file = tmp.write(
      'quoted.conf',
      natsAuthorizationConfig({ pool, supervisor: { user: 'sup', password }, workers: [], clients: [] }),
    );
    const server = await serve(file);
    const nc = await connectTo(
      server.url,
      natsConnectOptions({ natsUser: 'sup' }, { NATS_PASSWORD: password }),
    );
    open.push(nc);
    await nc.flush();
    await expect(
      connectTo(server.url, natsConnectOptions({ natsUser: 'sup', natsPassword: 'p"a\\ss' }, {})),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });
});

describe('openrtc nats-config', () => {
  it('writes a private config file that nats-server runs, and prints the credentials as JSON', async () => {
    const out = tmp.path('pool.conf');
    const { code, out: stdout } = run({
      pool: 'prod',
      workers: ['w1', 'w2'],
      clients: ['ops'],
      out,
      json: true,
    });
    expect(code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const creds = JSON.parse(stdout);
    expect(creds.configFile).toBe(out);
    expect(creds.workers.map((w: { id: string }) => w.id)).toEqual(['w1', 'w2']);
    expect(creds.supervisor.user).toBe('prod-supervisor');
    expect(creds.clients[0].user).toBe('prod-client-ops');
    expect(
      new Set([creds.supervisor.password, ...creds.workers.map((w: { password: string }) => w.password)])
        .size,
    ).toBe(3);

    const server = await serve(out);
    const s = subjects('prod');
    const sup = await connectTo(
      server.url,
      cliNatsConnect({ pool: 'prod' }, { kind: 'supervisor' }, creds.supervisor.env),
    );
    const events = record(sup, s.eventsAll);
    await sup.flush();
    const worker = await connectTo(
      server.url,
      cliNatsConnect({ pool: 'prod' }, { kind: 'worker', id: 'w2' }, creds.workers[1].env),
    );
    open.push(sup, worker);
    worker.publish(s.events('w2'), 'hi');
    await worker.flush();
    await sup.flush();
    expect(events.got.map((e) => e.subject)).toEqual([s.events('w2')]);
  });

  it('refuses to overwrite the config file without --force', () => {
    const out = tmp.path('twice.conf');
    expect(run({ pool: 'p', workers: ['w1'], out }).code).toBe(0);
    expect(() => run({ pool: 'p', workers: ['w1'], out })).toThrow(CliError);
    expect(() => run({ pool: 'p', workers: ['w1'], out })).toThrow(/exists: pass --force/);
    expect(run({ pool: 'p', workers: ['w1'], out, force: true }).code).toBe(0);
  });

  it('prints each role with its environment and command after writing the file', () => {
    const out = tmp.path('text.conf');
    const { out: text } = run({ pool: 'p', workers: workerIds('2'), out });
    expect(text).toContain(`nats-server -c ${out}`);
    expect(text).toMatch(
      /worker w2 +NATS_USER=p-worker-w2 NATS_PASSWORD=\S+ openrtc worker --pool p --id w2/,
    );
    expect(text).toMatch(/client app +NATS_USER=p-client-app /);
  });

  it('prints the config itself when there is no --out, for `> file`', () => {
    const { out } = run({ pool: 'p', workers: ['w1'] });
    expect(out).toMatch(/^# openrtc pool 'p'/);
    expect(out).toContain('authorization {');
  });
});

describe('CLI helpers', () => {
  it('reads --workers as a count of local ids or a list, and refuses what is no subject token', () => {
    expect(workerIds('3')).toEqual(['w1', 'w2', 'w3']);
    expect(workerIds('edge-1, edge-2')).toEqual(['edge-1', 'edge-2']);
    expect(() => workerIds('a.b')).toThrow(/--workers must be 1-64 characters/);
    expect(() => workerIds('a,a')).toThrow(/twice/);
    expect(() => workerIds('0')).toThrow(/1-10000/);
    expect(clientNames('ops,app')).toEqual(['ops', 'app']);
  });

  it('adds every credential flag, each naming its environment variable', () => {
    const cmd = addNatsAuthOptions(new Command('x').exitOverride());
    cmd.parse(['--nats-user', 'u', '--nats-creds', 'c.creds', '--nats-ca', 'ca.pem'], { from: 'user' });
    expect(cmd.opts()).toEqual({ natsUser: 'u', natsCreds: 'c.creds', natsCa: 'ca.pem' });
    const help = cmd.helpInformation().replace(/\s+/g, ' '); // undo the line wrapping
    for (const name of [
      'NATS_USER',
      'NATS_PASSWORD',
      'NATS_TOKEN',
      'NATS_NKEY',
      'NATS_CREDS',
      'NATS_CA',
      'NATS_CERT',
      'NATS_KEY',
    ]) {
      expect(help).toContain(`(env ${name})`);
    }
  });

  it('turns a credential mistake into a CliError and pins the role’s inbox', () => {
    expect(() => cliNatsConnect({ pool: 'p', natsUser: 'u' }, { kind: 'client' }, {})).toThrow(CliError);
    expect(() => cliNatsAuth({ natsCa: tmp.path('none.pem') }, {})).toThrow(CliError);
    expect(cliNatsAuth({}, { NATS_USER: 'u', NATS_PASSWORD: 'p' })).toEqual({ user: 'u', pass: 'p' });
    expect(cliNatsConnect({ pool: 'p' }, { kind: 'worker', id: 'w1' }, { NATS_TOKEN: 't' })).toEqual({
      token: 't',
      inboxPrefix: '_INBOX.openrtc.p.worker.w1',
    });
  });

  it('hands a child process the parent’s credentials as NATS_* variables, flags folded in', () => {
    expect(
      natsAuthEnv({ natsUser: 'flag-user' }, { NATS_USER: 'env-user', NATS_PASSWORD: 'pw', PATH: '/bin' }),
    ).toEqual({ NATS_USER: 'flag-user', NATS_PASSWORD: 'pw' });
    expect(() => natsAuthEnv({ natsToken: 't' }, { NATS_USER: 'u', NATS_PASSWORD: 'p' })).toThrow(
      /choose one way/,
    );
  });
});

describe("the supervisor's JetStream permissions (real nats-server with JetStream, generated config)", () => {
  it('lets the supervisor hold the lease and keep the durable record, and nobody else touch them', async () => {
    const pool = 'js1';
    const users = generatePoolUsers({ pool, workers: ['w1'], clients: ['app'] });
    const server = await startNatsServer({
      configFile: tmp.write('js.conf', natsAuthorizationConfig(users)),
      jetstream: true,
    });
    servers.push(server);
    const { log, lines } = captureLog({ role: 'supervisor' });
    const env = { NATS_USER: users.supervisor.user, NATS_PASSWORD: users.supervisor.password };
    const bus = await Bus.connect({
      url: server.url,
      name: 'openrtc-supervisor',
      self: 'supervisor',
      log,
      connect: { ...natsConnectOptions({}, env), inboxPrefix: natsInboxPrefix(pool, { kind: 'supervisor' }) },
    });
    try {
      // The lease: create the bucket, take, renew (compare-and-set), read, release. A refused
      // JetStream call would fail its request, and so the test.
      const lease = await Lease.open(bus, pool, 'sup-1', log, { ttlMs: 1500 });
      const term = await lease.acquire({ giveUpMs: 3000 });
      expect(term).toBeGreaterThan(0);
      const lost: string[] = [];
      lease.keep((reason) => lost.push(reason));
      // The first renewal writes the term into the lease.
      await waitFor('a renewal', async () => (await lease.holder())?.term === term);
      expect((await lease.holder())?.id).toBe('sup-1');
      await lease.release();
      expect(lost).toEqual([]);
      // The record: create the stream, write a session, read it back, load the newest.
      const rec = await DurableRecord.open(bus, pool, log);
      const view = {
        session: 'sabc',
        agent: 'dental',
        worker: 'w1',
        jobId: 'j1',
        room: 'r1',
        state: 'closed' as const,
        seq: 6,
        createdAt: 1,
        since: 2,
        confirmed: true,
        reported: true,
        speech: { start: 0, end: 0 },
      };
      rec.write(view);
      await rec.flush();
      expect((await rec.get('sabc'))?.view).toMatchObject({ session: 'sabc', state: 'closed' });
      expect((await rec.load(10)).map((e) => e.view.session)).toEqual(['sabc']);
      expect(lines.filter((l) => /failed/.test(String(l.msg)))).toEqual([]);

      // A worker's credentials reach neither the lease nor the record.
      const w1 = users.workers[0] as (typeof users.workers)[0];
      const worker = await connectTo(server.url, {
        ...natsConnectOptions({}, { NATS_USER: w1.user, NATS_PASSWORD: w1.password }),
        inboxPrefix: natsInboxPrefix(pool, { kind: 'worker', id: 'w1' }),
      });
      open.push(worker);
      const workerDenied = permissionErrors(worker);
      worker.publish('$KV.openrtc_lease_js1.leader', '{"id":"intruder","term":99}');
      worker.publish('$JS.API.STREAM.INFO.OPENRTC_RECORD_js1', '');
      await worker.flush();
      await waitFor('both refused', () => workerDenied.seen.length >= 2);
    } finally {
      await bus.close();
    }
  });
});
