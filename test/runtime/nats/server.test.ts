import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  findNatsServerBinary,
  NatsServerNotFoundError,
  startNatsServer,
} from '../../../src/runtime/nats/server.ts';

describe('embedded nats-server', () => {
  it('starts on a random loopback port, accepts a client, and stops', async () => {
    const server = await startNatsServer();
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(server.port).not.toBe(4222);
    const nc = await connect({ servers: server.url });
    const sub = nc.subscribe('t.x', { max: 1 });
    nc.publish('t.x', 'hi');
    for await (const m of sub) expect(m.string()).toBe('hi');
    await nc.close();
    const pid = server.pid;
    await server.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('comes back on the same port after pause/start', async () => {
    const server = await startNatsServer();
    const port = server.port;
    await server.pause();
    await server.start();
    expect(server.port).toBe(port);
    const nc = await connect({ servers: server.url });
    await nc.flush();
    await nc.close();
    await server.stop();
  });

  it('a missing binary is a NatsServerNotFoundError with the install hint', () => {
    expect(() => findNatsServerBinary({ NATS_SERVER_BIN: '/nonexistent/nats-server' })).toThrow(
      NatsServerNotFoundError,
    );
    // Debian installs it in /usr/sbin, which is not on every user's PATH: that is searched too.
    expect(findNatsServerBinary({ PATH: '/nonexistent' })).toMatch(/\/nats-server$/);
    try {
      findNatsServerBinary({ NATS_SERVER_BIN: '/nonexistent/nats-server' });
    } catch (err) {
      expect((err as Error).message).toContain('apt-get install -y nats-server');
      expect((err as Error).message).toContain('brew install nats-server');
    }
  });

  it('a server that cannot start reports its own error', async () => {
    await expect(startNatsServer({ configFile: '/nonexistent.conf' })).rejects.toThrow(/nats-server exited/);
  });
});
