import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MessageOf, subjects } from '../../src/protocol/index.ts';
import { type NatsRole, natsConnectOptions, natsInboxPrefix } from '../../src/runtime/nats/auth.ts';
import { Bus } from '../../src/runtime/nats/bus.ts';
import { generatePoolUsers, natsAuthorizationConfig } from '../../src/runtime/nats/permissions.ts';
import type { RunningNatsServer } from '../../src/runtime/nats/server.ts';
import { SUPERVISOR_ID, SupervisorService } from '../../src/runtime/supervisor/service.ts';
import { loadSharedVad } from '../../src/runtime/voice/vad.ts';
import { WorkerService } from '../../src/runtime/worker/service.ts';
import { createVoiceDriver } from '../../src/runtime/worker/voice-driver.ts';
import { captureLog } from '../support/log.ts';
import { waitFor } from '../support/wait.ts';
import { startServerWithConfig, useTempDir } from './support.ts';

/**
 * The real supervisor and worker services, each on its own least-privilege credential: the pool
 * still works, and a worker that lies about who it is is stopped twice, by nats-server and by the
 * supervisor's own check.
 */
const pool = 'locked';
const s = subjects(pool);
const users = generatePoolUsers({ pool, workers: ['w1', 'w2'], clients: ['app'] });
const [w1, w2] = users.workers as [(typeof users.workers)[0], (typeof users.workers)[0]];
const tmp = useTempDir();
const buses: Bus[] = [];
let server: RunningNatsServer;
let supervisor: SupervisorService;
let worker: WorkerService;
const supervisorLog = captureLog({ role: 'supervisor' });

async function busAs(
  cred: { user: string; password: string },
  role: NatsRole,
  self: string,
  log = captureLog().log,
) {
  const bus = await Bus.connect({
    url: server.url,
    name: `openrtc-${self}`,
    self,
    log,
    connect: {
      ...natsConnectOptions({}, { NATS_USER: cred.user, NATS_PASSWORD: cred.password }),
      inboxPrefix: natsInboxPrefix(pool, role),
    },
  });
  buses.push(bus);
  return bus;
}

beforeAll(async () => {
  server = await startServerWithConfig(tmp.write('locked.conf', natsAuthorizationConfig(users)));
  supervisor = new SupervisorService({
    bus: await busAs(users.supervisor, { kind: 'supervisor' }, SUPERVISOR_ID, supervisorLog.log),
    pool,
    registry: [],
    localWorkers: [],
    heartbeatMs: 250,
    drainTimeoutMs: 1000,
    log: supervisorLog.log,
    spawnWorker: () => {
      throw new Error('this pool has no local workers');
    },
    killWorker: () => {},
  });
  supervisor.start();
  const workerLog = captureLog({ worker: 'w1' }).log;
  worker = new WorkerService({
    bus: await busAs(w1, { kind: 'worker', id: 'w1' }, 'w1', workerLog),
    pool,
    workerId: 'w1',
    capacity: 4,
    drainTimeoutMs: 1000,
    log: workerLog,
    createDriver: createVoiceDriver,
    prewarm: async () => ({ ms: (await loadSharedVad()).ms }),
  });
  worker.start();
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all(buses.map((b) => b.close()));
  await server?.stop();
});

describe('a pool whose every process has only its own NATS credential', () => {
  it('registers the worker and answers a client its status', async () => {
    const client = await busAs(
      users.clients[0] as (typeof users.clients)[0],
      { kind: 'client' },
      'client-app',
    );
    const status = await waitFor(
      'w1 ready in the status',
      async () => {
        const reply = (await client.request(
          s.status,
          client.make('status', {}),
          1000,
        )) as MessageOf<'status.ok'>;
        return reply.workers.some((w) => w.worker === 'w1' && w.state === 'ready') ? reply : undefined;
      },
      15_000,
      100,
    );
    expect(status.workers.map((w) => w.worker)).toEqual(['w1']);
  });

  it('stops a worker speaking for another: nats-server on the other’s subject, the supervisor on its own', async () => {
    const rogueLog = captureLog();
    // w2's credential, claiming to be w1
    const rogue = await busAs(w2, { kind: 'worker', id: 'w2' }, 'w1', rogueLog.log);
    const heartbeat = rogue.make('heartbeat', {
      worker: 'w1',
      epoch: 'forged',
      state: 'stopped',
      active: 0,
      capacity: 1,
      rssBytes: 0,
      prewarm: { status: 'ok' },
      sessions: [],
    });

    rogue.publish(s.events('w1'), heartbeat);
    // nats-server's -ERR reaches the rogue's own bus, which logs it.
    await waitFor('the refused publish in the rogue bus log', () =>
      rogueLog.lines.some(
        (l) =>
          l.msg === 'nats permission violation' && l.operation === 'publish' && l.subject === s.events('w1'),
      ),
    );
    rogue.publish(s.events('w2'), heartbeat);

    const client = await busAs(
      users.clients[0] as (typeof users.clients)[0],
      { kind: 'client' },
      'client-app',
    );
    const status = await waitFor('the refused heartbeat counted', async () => {
      const reply = (await client.request(
        s.status,
        client.make('status', {}),
        1000,
      )) as MessageOf<'status.ok'>;
      return reply.rejected.from_mismatch ? reply : undefined;
    });
    expect(status.rejected.from_mismatch).toBe(1);
    expect(status.workers.map((w) => [w.worker, w.state])).toEqual([['w1', 'ready']]);
    expect(
      supervisorLog.lines.some((l) => l.msg === 'message refused: sender does not match its subject'),
    ).toBe(true);
  });
});
