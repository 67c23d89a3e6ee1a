import { describe, expect, it } from 'vitest';
import { PoolClient } from '../../src/runtime/client.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const AGENTS = new URL('./agents', import.meta.url).pathname;
const nats = useNatsServer();
const openrtc = useOpenrtc();

describe('rolling upgrade on SIGHUP (real nats-server, the openrtc start process and its workers)', () => {
  it('SIGHUP to openrtc start rolls out a new generation, which then serves', async () => {
    const pool = `hup${Math.random().toString(36).slice(2, 7)}`;
    const start = openrtc([
      'start',
      AGENTS,
      '--nats',
      nats.url,
      '--pool',
      pool,
      '--workers',
      '1',
      '--spares',
      '0',
      '--no-inspect',
    ]);
    const client = await PoolClient.connect({ url: nats.url, pool, log: createLogger({ level: 'warn' }) });
    try {
      const [first] = await readyWorkers(client, 1, 45_000);
      start.kill('SIGHUP');
      const s = await waitFor(
        'the SIGHUP rollout done',
        async (note) => {
          const now = await client.status(1000);
          note(now.rollout);
          return now.rollout?.state === 'done' ? now : undefined;
        },
        45_000,
        100,
      );
      expect(s.rollout).toMatchObject({ generation: 2, drained: [first?.worker] });
      const ok = await client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 200 } });
      expect(s.rollout?.workers).toContain(ok.worker);
      start.kill('SIGTERM');
      expect(await exited(start)).toBe(0);
    } finally {
      await client.close();
    }
  });
});
