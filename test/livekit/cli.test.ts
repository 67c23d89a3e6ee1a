import { fileURLToPath } from 'node:url';
import { JobType, WorkerStatus } from '@livekit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServerDouble, startLiveKitServerDouble } from '../support/livekit-server-double.ts';
import { useNatsServer } from '../support/nats.ts';
import { exited, useOpenrtc } from '../support/processes.ts';

const nats = useNatsServer();
/** Filled per test: the LiveKit variables the command sees. */
const env: NodeJS.ProcessEnv = {};
const openrtc = useOpenrtc(env);
const AGENTS = fileURLToPath(new URL('./agents', import.meta.url));

describe('`openrtc start` with LiveKit credentials in the environment', () => {
  let lk: LiveKitServerDouble;
  beforeAll(async () => {
    lk = await startLiveKitServerDouble();
  });
  afterAll(async () => {
    await lk?.stop();
  });

  it('registers for automatic dispatch, takes jobs once its worker is ready, and reports WS_FULL on SIGTERM', async () => {
    Object.assign(env, { LIVEKIT_URL: lk.url, LIVEKIT_API_KEY: lk.apiKey, LIVEKIT_API_SECRET: lk.apiSecret });
    const start = openrtc([
      'start',
      AGENTS,
      '--nats',
      nats.url,
      '--pool',
      `lk${Date.now() % 100000}`,
      '--workers',
      '1',
      '--spares',
      '0',
    ]);
    const reg = await lk.next('register', (r) => r.agentName === '', 30_000);
    expect(reg.type).toBe(JobType.JT_ROOM); // no --agent-name: automatic dispatch
    await lk.next('updateWorker', (u) => u.status === WorkerStatus.WS_AVAILABLE, 60_000);
    const [job] = await lk.dispatch({ room: 'support-77' });
    expect(job?.ok).toBe(true);
    // The double runs no room, so the session would hang in connecting: end it, so the drain is clean.
    const busy = lk.all('updateWorker').length;
    expect(lk.terminate(job?.job.id ?? '')).toBe(true);
    await lk.next('updateWorker', (u) => lk.all('updateWorker').indexOf(u) >= busy && u.load === 0);

    const before = lk.all('updateWorker').length;
    start.kill('SIGTERM');
    await lk.next(
      'updateWorker',
      (u) => lk.all('updateWorker').indexOf(u) >= before && u.status === WorkerStatus.WS_FULL,
    );
    expect(await exited(start)).toBe(0);
  }, 90_000);

  it('refuses a LiveKit URL without its credentials with a one-line error (exit 2)', async () => {
    Object.assign(env, { LIVEKIT_URL: lk.url, LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' });
    const start = openrtc(['start', AGENTS, '--nats', nats.url, '--workers', '0']);
    expect(await exited(start)).toBe(2);
    expect(start.output()).toMatch(/needs its credentials: --livekit-api-key and --livekit-api-secret/);
  });
});
