import { describe, expect, it } from 'vitest';
import { PoolClient } from '../../src/runtime/client.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { AUDIO, EXAMPLE_AGENTS, readyWorkers, sessionsReach } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { isAlive, waitFor } from '../support/wait.ts';

const nats = useNatsServer();
const openrtc = useOpenrtc();

/**
 * `openrtc start|dev` on the test's nats-server under a fresh pool name, and a client of that pool.
 * The callers pass `--spares 0`: no test here is about spares (test/integration/hot-spare.test.ts
 * and test/inspect/pool-inspect.test.ts are), and a spare is one more worker process to boot, about
 * 2.5 s of CPU that the rest of the suite shares.
 */
async function poolProcess(prefix: string, args: string[]) {
  const pool = `${prefix}${Date.now() % 100000}`;
  const [command, ...rest] = args;
  const dev = openrtc([command as string, EXAMPLE_AGENTS, '--nats', nats.url, '--pool', pool, ...rest]);
  const client = await PoolClient.connect({ url: nats.url, pool, log: captureLog().log });
  return { dev, client, pool };
}

describe('the openrtc command', () => {
  it('SIGTERM on `openrtc start` drains: in-flight sessions finish, exit 0, no orphan processes', async () => {
    const { dev, client } = await poolProcess('cli', [
      'start',
      '--workers',
      '2',
      '--spares',
      '0',
      '--drain-timeout',
      '15000',
      '--heap-growth',
      '50',
    ]);
    try {
      const workers = await readyWorkers(client, 2, 60_000);
      const placed = await Promise.all(
        [0, 1].map(() =>
          client.dispatch({ agent: 'restaurant', audio: { kind: 'wav', path: AUDIO.restaurant } }),
        ),
      );
      await sessionsReach(client, placed, 'active');
      dev.kill('SIGTERM');
      // Refused while draining: no new sessions once the drain began.
      await waitFor('dispatch refused while draining', async () => {
        const err = await client.dispatch({ agent: 'dental' }).catch((e: Error) => e);
        return err instanceof Error && /draining/.test(err.message);
      });
      expect(await exited(dev)).toBe(0);
      const log = dev.output();
      for (const p of placed)
        expect(log).toMatch(new RegExp(`"session":"${p.session}"[^\\n]*"state":"closed"`));
      for (const w of workers) expect(isAlive(w.pid ?? -1)).toBe(false);
      // `--heap-growth` reached both workers (each sets V8's heap growth and says so).
      for (const w of workers)
        expect(log).toMatch(new RegExp(`"worker":"${w.worker}"[^\\n]*"heapGrowthPercent":50`));
    } finally {
      await client.close();
    }
  }, 90_000);

  it('a drain that has to cut sessions short exits 4 and says so', async () => {
    const { dev, client } = await poolProcess('cut', [
      'start',
      '--workers',
      '1',
      '--spares',
      '0',
      '--drain-timeout',
      '500',
    ]);
    try {
      await readyWorkers(client, 1, 60_000);
      const s = await client.dispatch({ agent: 'dental', audio: { kind: 'silence', durationMs: 60_000 } });
      await waitFor(
        'active',
        async () => (await client.status()).sessions.find((x) => x.session === s.session)?.state === 'active',
      );
      dev.kill('SIGTERM');
      expect(await exited(dev)).toBe(4);
      expect(dev.output()).toContain('did not finish within the drain timeout');
    } finally {
      await client.close();
    }
  }, 90_000);

  it('`openrtc dispatch --wait` prints the transitions and exits 0 when the session closes', async () => {
    const { dev, client, pool } = await poolProcess('cli', ['dev', '--workers', '1', '--spares', '0']);
    try {
      await readyWorkers(client, 1, 60_000);
      const d = openrtc([
        'dispatch',
        '--nats',
        nats.url,
        '--pool',
        pool,
        '--room',
        'dental-42',
        '--audio',
        AUDIO.dental,
        '--wait',
      ]);
      expect(await exited(d)).toBe(0);
      const out = d.output();
      expect(out).toMatch(/agent dental/);
      for (const state of ['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed'])
        expect(out).toContain(`→ ${state}`);
      const bad = openrtc(['dispatch', '--nats', nats.url, '--pool', pool, '--agent', 'nobody']);
      expect(await exited(bad)).toBe(1);
      expect(bad.output()).toContain("Unknown agent 'nobody'");
    } finally {
      await client.close();
      dev.kill('SIGTERM');
      expect(await exited(dev)).toBe(0);
    }
  }, 90_000);

  it('bad flags are refused with a message naming the flag and exit code 2', async () => {
    const c = openrtc(['dev', '--workers', 'two']);
    expect(await exited(c)).toBe(2);
    expect(c.output()).toContain('--workers must be a non-negative integer');
    const m = openrtc(['dispatch', '--metadata', '{oops', '--nats', nats.url]);
    expect(await exited(m)).toBe(2);
    expect(m.output()).toContain('--metadata must be a JSON object');
    const n = openrtc(['status', '--nats', 'http://nope']);
    expect(await exited(n)).toBe(2);
    expect(n.output()).toContain('--nats must be a NATS URL');
    expect(n.output()).not.toMatch(/at .*\.ts:\d+/);
    const g = openrtc(['worker', '--nats', nats.url, '--heap-growth', '5']);
    expect(await exited(g)).toBe(2);
    expect(g.output()).toContain("--heap-growth must be an integer from 10 to 300, got '5'");
    const e = openrtc(['start', '--nats', nats.url, '--heap-growth', 'lots']);
    expect(await exited(e)).toBe(2);
    expect(e.output()).toContain("--heap-growth must be an integer from 10 to 300, got 'lots'");
    const d = openrtc(['dev', '/nonexistent/agents', '--nats', nats.url]);
    expect(await exited(d)).toBe(2);
    expect(d.output()).toContain('/nonexistent/agents');
    expect(d.output()).not.toMatch(/at .*\.ts:\d+/);
  });
});
