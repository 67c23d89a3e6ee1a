import { afterAll, beforeAll } from 'vitest';
import { type RunningNatsServer, startNatsServer } from '../../src/runtime/nats/server.ts';

/** Starts one real nats-server on a random loopback port for this test file; stops it after. */
export function useNatsServer(): { readonly server: RunningNatsServer; readonly url: string } {
  let server: RunningNatsServer | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('nats-server not started yet (use it inside a test or hook)');
      return server;
    },
    get url() {
      return this.server.url;
    },
  };
}
