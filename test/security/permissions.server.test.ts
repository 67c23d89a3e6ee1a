import {
  AuthorizationError,
  type NatsConnection,
  nkeys,
  PermissionViolationError,
} from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/protocol/index.ts';
import { type NatsRole, natsConnectOptions, natsInboxPrefix } from '../../src/runtime/nats/auth.ts';
import { Bus, RequestFailedError } from '../../src/runtime/nats/bus.ts';
import { generatePoolUsers, natsAuthorizationConfig } from '../../src/runtime/nats/permissions.ts';
import type { RunningNatsServer } from '../../src/runtime/nats/server.ts';
import { captureLog } from '../support/log.ts';
import { waitFor } from '../support/wait.ts';
import {
  connectTo,
  permissionErrors,
  record,
  refusedSubscription,
  startServerWithConfig,
  useTempDir,
} from './support.ts';

const pool = 'sec';
const s = subjects(pool);
const users = generatePoolUsers({ pool, workers: ['w1', 'w2'], clients: ['app'] });
const nkeyWorker = nkeys.createUser();
const tmp = useTempDir();
let server: RunningNatsServer;
const open: NatsConnection[] = [];
const buses: Bus[] = [];

beforeAll(async () => {
  const config = natsAuthorizationConfig({
    ...users,
    workers: [...users.workers, { id: 'w3', nkey: nkeyWorker.getPublicKey() }],
  });
  server = await startServerWithConfig(tmp.write('auth.conf', config));
});
// Each test starts from no connection, so no responder of one test answers in another.
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(open.splice(0).map((nc) => nc.close()));
});
afterAll(async () => {
  await server?.stop();
});

/** Connects the way `openrtc` does: credentials from flags (none from env), the role's inbox. */
async function as(cred: { user: string; password: string }, role: NatsRole): Promise<NatsConnection> {
  const nc = await connectTo(server.url, {
    ...natsConnectOptions({ natsUser: cred.user, natsPassword: cred.password }, {}),
    inboxPrefix: natsInboxPrefix(pool, role),
  });
  open.push(nc);
  return nc;
}

async function busAs(cred: { user: string; password: string }, role: NatsRole, self: string): Promise<Bus> {
  const bus = await Bus.connect({
    url: server.url,
    name: `test-${self}`,
    self,
    log: captureLog().log,
    connect: {
      ...natsConnectOptions({ natsUser: cred.user, natsPassword: cred.password }, {}),
      inboxPrefix: natsInboxPrefix(pool, role),
    },
  });
  buses.push(bus);
  return bus;
}

const supervisorRole: NatsRole = { kind: 'supervisor' };
const client: NatsRole = { kind: 'client' };
const worker = (id: string): NatsRole => ({ kind: 'worker', id });
const [w1, w2] = users.workers as [(typeof users.workers)[0], (typeof users.workers)[0]];
const app = users.clients[0] as (typeof users.clients)[0];

describe('a pool locked down with the generated nats-server config', () => {
  it('refuses a connection without credentials, and one with a wrong password', async () => {
    await expect(connectTo(server.url)).rejects.toBeInstanceOf(AuthorizationError);
    await expect(
      connectTo(server.url, natsConnectOptions({ natsUser: w1.user, natsPassword: `${w1.password}x` }, {})),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('drops a worker publishing as another worker and reports a PermissionViolationError to it', async () => {
    const sup = await as(users.supervisor, supervisorRole);
    const events = record(sup, s.eventsAll);
    await sup.flush();
    const nc = await as(w1, worker('w1'));
    const errors = permissionErrors(nc);

    nc.publish(s.events('w2'), 'spoofed heartbeat');
    nc.publish(s.events('w1'), 'own heartbeat');
    const error = await errors.next(s.events('w2'));
    expect(error.operation).toBe('publish');
    await waitFor('own heartbeat', () => events.got.length > 0);
    await sup.flush();
    expect(events.got).toEqual([{ subject: s.events('w1'), data: 'own heartbeat' }]);
    expect(nc.isClosed()).toBe(false);
  });

  it('refuses a hello in another worker name, and answers the worker its own hello', async () => {
    const sup = await busAs(users.supervisor, supervisorRole, 'supervisor');
    sup.subscribe(s.helloAll, (msg) => sup.make('ack', { ref: msg.id }));
    await sup.flush();
    const bus = await busAs(w1, worker('w1'), 'w1');
    const hello = () => bus.make('drain', { timeoutMs: 0 }); // payload does not matter to the server

    const refused = await bus.request(s.hello('w2'), hello(), 2000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RequestFailedError);
    expect((refused as RequestFailedError).error.message).toMatch(/permissions violation for publish/i);

    const reply = await bus.request(s.hello('w1'), hello(), 2000).catch((e: unknown) => e);
    // The supervisor refuses a drain on a hello subject as a wrong type: that proves the request
    // reached it and its error reply came back through the worker's pinned inbox.
    expect(reply).toBeInstanceOf(RequestFailedError);
    expect((reply as RequestFailedError).error.details?.reason).toBe('wrong_subject');
  });

  it('lets a worker receive and answer its own commands, and nobody else’s', async () => {
    const bus = await busAs(w2, worker('w2'), 'w2');
    const commands: string[] = [];
    bus.subscribe(s.workerCmd('w2'), (msg) => {
      commands.push(msg.type);
      return bus.make('ack', { ref: msg.id });
    });
    await bus.flush();
    const sup = await busAs(users.supervisor, supervisorRole, 'supervisor');

    const reply = await sup.request(s.workerCmd('w2'), sup.make('drain', { timeoutMs: 100 }), 2000);
    expect(reply.type).toBe('ack');
    expect(commands).toEqual(['drain']);

    const spy = await as(w1, worker('w1'));
    expect(await refusedSubscription(spy, s.workerCmd('w2'))).toBeInstanceOf(PermissionViolationError);
    expect(await refusedSubscription(spy, '_INBOX.>')).toBeInstanceOf(PermissionViolationError);
    expect(await refusedSubscription(spy, `${natsInboxPrefix(pool, supervisorRole)}.>`)).toBeInstanceOf(
      PermissionViolationError,
    );
  });

  it('refuses a worker that publishes a reply it was never asked for', async () => {
    const nc = await as(w1, worker('w1'));
    const errors = permissionErrors(nc);
    const forged = `${natsInboxPrefix(pool, supervisorRole)}.forged.1`;
    nc.publish(forged, 'forged ack');
    expect((await errors.next(forged)).operation).toBe('publish');
  });

  it('does not let a client command a worker, publish events or read them, but serves it dispatch and status', async () => {
    const sup = await busAs(users.supervisor, supervisorRole, 'supervisor');
    sup.subscribe(s.dispatch, (msg) =>
      sup.make('dispatch.ok', {
        ref: msg.id,
        session: 's1',
        worker: 'w1',
        agent: 'front-desk',
        jobId: 'j1',
        existing: false,
      }),
    );
    sup.subscribe(s.status, (msg) =>
      sup.make('status.ok', { ref: msg.id, pool, health: 'ok', workers: [], sessions: [], rejected: {} }),
    );
    const target = await busAs(w1, worker('w1'), 'w1');
    const commands: string[] = [];
    target.subscribe(s.workerCmd('w1'), (msg) => {
      commands.push(msg.from);
      return target.make('ack', { ref: msg.id });
    });
    await Promise.all([sup.flush(), target.flush()]);
    const bus = await busAs(app, client, 'cli');

    const command = await bus
      .request(s.workerCmd('w1'), bus.make('drain', { timeoutMs: 0 }), 2000)
      .catch((e: unknown) => e);
    expect(command).toBeInstanceOf(RequestFailedError);
    expect((command as RequestFailedError).error.message).toMatch(/permissions violation for publish/i);

    expect((await bus.request(s.status, bus.make('status', {}), 2000)).type).toBe('status.ok');
    expect((await bus.request(s.dispatch, bus.make('dispatch', { agent: 'front-desk' }), 2000)).type).toBe(
      'dispatch.ok',
    );

    // The same credential on a bare connection: what nats-server refuses does not depend on the codec.
    const raw = await as(app, client);
    const errors = permissionErrors(raw);
    raw.publish(s.events('w1'), 'fake event');
    expect((await errors.next(s.events('w1'))).operation).toBe('publish');
    expect(await refusedSubscription(raw, s.eventsAll)).toBeInstanceOf(PermissionViolationError);
    const inspect = raw.subscribe(s.inspectAll);
    await raw.flush();
    expect(inspect.isClosed()).toBe(false);

    // The worker got only the supervisor's commands, never the client's.
    await sup.request(s.workerCmd('w1'), sup.make('drain', { timeoutMs: 0 }), 2000);
    expect(commands).toEqual(['supervisor']);
  });

  it('lets the supervisor listen to hellos, events, dispatch and status, command workers and broadcast', async () => {
    const sup = await as(users.supervisor, supervisorRole);
    const errors = permissionErrors(sup);
    const subs = [s.helloAll, s.eventsAll, s.dispatch, s.status, s.inspectAll].map((subject) =>
      sup.subscribe(subject),
    );
    const workers = await Promise.all([as(w1, worker('w1')), as(w2, worker('w2'))]);
    const heard = workers.map((nc) => record(nc, s.broadcast));
    workers.forEach((nc, i) => {
      nc.subscribe(s.workerCmd(`w${i + 1}`), { callback: (_err, msg) => void msg.respond('ok') });
    });
    await Promise.all(workers.map((nc) => nc.flush()));

    sup.publish(s.broadcast, 'supervisor.up');
    sup.publish(s.inspect('supervisor'), 'transition');
    expect((await sup.request(s.workerCmd('w1'), 'cmd', { timeout: 2000 })).string()).toBe('ok');
    expect((await sup.request(s.workerCmd('w2'), 'cmd', { timeout: 2000 })).string()).toBe('ok');
    await waitFor('the broadcast at both workers', () => heard.every((h) => h.got.length === 1));
    await sup.flush();
    expect(subs.every((sub) => !sub.isClosed())).toBe(true);
    expect(errors.seen).toEqual([]);
  });

  it('lets a local worker run on the supervisor’s credentials, with its own worker inbox', async () => {
    const sup = await busAs(users.supervisor, supervisorRole, 'supervisor');
    sup.subscribe(s.helloAll, (msg) => sup.make('ack', { ref: msg.id }));
    await sup.flush();
    const local = await busAs(users.supervisor, worker('w9'), 'w9');
    local.subscribe(s.workerCmd('w9'), (msg) => local.make('ack', { ref: msg.id }));
    await local.flush();

    // A drain on a hello subject: the supervisor's codec answers wrong_subject, through the inbox.
    const reply = await local
      .request(s.hello('w9'), local.make('drain', { timeoutMs: 0 }), 2000)
      .catch((e) => e);
    expect((reply as RequestFailedError).error.details?.reason).toBe('wrong_subject');
    expect((await sup.request(s.workerCmd('w9'), sup.make('drain', { timeoutMs: 0 }), 2000)).type).toBe(
      'ack',
    );
  });

  it('pins an nkey worker to its own subjects like a password one', async () => {
    const seedFile = tmp.write('w3.nk', new TextDecoder().decode(nkeyWorker.getSeed()));
    const nc = await connectTo(server.url, {
      ...natsConnectOptions({}, { NATS_NKEY: seedFile }),
      inboxPrefix: natsInboxPrefix(pool, worker('w3')),
    });
    open.push(nc);
    const sup = await as(users.supervisor, supervisorRole);
    const events = record(sup, s.eventsAll);
    await sup.flush();
    const errors = permissionErrors(nc);

    nc.publish(s.events('w1'), 'spoofed');
    nc.publish(s.events('w3'), 'own');
    expect((await errors.next(s.events('w1'))).operation).toBe('publish');
    await waitFor('the nkey worker event', () => events.got.length > 0);
    await sup.flush();
    expect(events.got.map((e) => e.subject)).toEqual([s.events('w3')]);
  });
});
