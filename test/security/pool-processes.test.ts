import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolClient } from '../../src/runtime/client.ts';
import { generatePoolUsers, natsAuthorizationConfig } from '../../src/runtime/nats/permissions.ts';
import type { RunningNatsServer } from '../../src/runtime/nats/server.ts';
import { type PoolHandle, startPool } from '../../src/runtime/pool.ts';
import { captureLog } from '../support/log.ts';
import { AUDIO, EXAMPLE_AGENTS, readyWorkers } from '../support/pool.ts';
import { startServerWithConfig, useTempDir } from './support.ts';

/** A whole pool (real worker processes) on a nats-server that lets each role do only its job. */
const pool = 'lockpool';
const users = generatePoolUsers({ pool, workers: ['w1'], clients: ['app'] });
const tmp = useTempDir();
let server: RunningNatsServer;
let handle: PoolHandle;
let client: PoolClient;
const log = captureLog({ pool });

describe('a locked-down pool', () => {
  beforeAll(async () => {
    const file = tmp.write('nats.conf', natsAuthorizationConfig(users));
    server = await startServerWithConfig(file);
    const sup = users.supervisor;
    handle = await startPool({
      agentsDir: EXAMPLE_AGENTS,
      nats: server.url,
      pool,
      workers: 1,
      capacity: 4,
      drainTimeoutMs: 3000,
      heartbeatMs: 250,
      pretty: false,
      log: log.log,
      natsAuth: { user: sup.user, pass: sup.password },
      // Local workers get the supervisor's credentials through the environment, never argv.
      workerEnv: { NATS_USER: sup.user, NATS_PASSWORD: sup.password, OPENRTC_LOG_LEVEL: 'warn' },
    });
    const app = users.clients[0];
    if (!app) throw new Error('no client user');
    client = await PoolClient.connect({
      url: server.url,
      pool,
      log: log.log,
      natsAuth: { user: app.user, pass: app.password },
    });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await handle?.stop();
    await server?.stop();
  });

  it('serves a dispatch end to end with every process on its own credentials, and no secret reaches the logs', async () => {
    await readyWorkers(client, 1);
    const follow = client.follow(() => {});
    await client.bus.flush();
    const ok = await client.dispatch({
      agent: 'dental',
      audio: { kind: 'wav', path: AUDIO.dental, realtime: false },
    });
    follow.track(ok.session);
    expect((await follow.done).to).toBe('closed');
    const text = JSON.stringify(log.lines);
    expect(text).not.toContain(users.supervisor.password);
    for (const c of users.clients) expect(text).not.toContain(c.password);
  });

  it('a client credential cannot command a worker', async () => {
    const [worker] = (await client.status()).workers;
    if (!worker) throw new Error('no worker');
    const err = await client.bus
      .request(client.subjects.workerCmd(worker.worker), client.bus.make('drain', { timeoutMs: 0 }), 1000)
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/permission/i);
    const status = await client.status();
    expect(status.workers.find((w) => w.worker === worker.worker)?.state).toBe('ready');
  });
});
