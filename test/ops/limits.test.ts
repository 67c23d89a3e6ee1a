import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestFailedError } from '../../src/runtime/nats/bus.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, sessionsReach, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const AGENTS = new URL('./agents', import.meta.url).pathname;
const nats = useNatsServer();
const dir = mkdtempSync(join(tmpdir(), 'openrtc-limits-'));
const failFile = join(dir, 'fail');
/** Wall clock, unavoidably: the breaker's cool-down runs on the supervisor's real clock here. */
const COOLDOWN_MS = 2000;
let t: TestPool;

beforeAll(async () => {
  t = await startTestPool(nats.url, {
    agentsDir: AGENTS,
    workers: 1,
    capacity: 10,
    workerEnv: {
      OPENRTC_LOG_LEVEL: process.env.OPENRTC_TEST_WORKER_LOG ?? 'info',
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_TEST_AGENTS_LOG ?? 'error',
      OPENRTC_TEST_FAIL_FILE: failFile,
    },
    operations: {
      limits: { agents: { steady: 2 }, tenants: { acme: 1 } },
      breaker: { failures: 2, windowMs: 60_000, cooldownMs: COOLDOWN_MS },
    },
  });
  await readyWorkers(t.client, 1);
});

afterAll(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The error code a dispatch was refused with (fails the test if it was accepted). */
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    (ok) => {
      throw new Error(`dispatch was accepted, expected a refusal: ${JSON.stringify(ok)}`);
    },
    (e: unknown) => e,
  );
  if (!(err instanceof RequestFailedError)) throw err;
  return err.error.code;
}

const long = { kind: 'silence' as const, durationMs: 60_000 };

describe('caps on concurrent sessions (real supervisor, worker process, nats-server)', () => {
  it('an agent at its cap and a tenant at its cap are refused at once with over_limit; a freed slot is taken again', async () => {
    const a = await t.client.dispatch({ agent: 'steady', audio: long });
    const b = await t.client.dispatch({ agent: 'steady', audio: long });
    const before = Date.now();
    expect(await refusal(t.client.dispatch({ agent: 'steady', audio: long }))).toBe('over_limit');
    // Refused at once, never queued (bound generous for a busy machine; a queued dispatch would
    // wait for a slot, i.e. for the 60 s sessions).
    expect(Date.now() - before).toBeLessThan(3000);
    let status = await t.client.status();
    expect(status.sessions.filter((s) => s.agent === 'steady')).toHaveLength(2);

    // Tenant cap: across agents, from the job metadata.
    const acme = { metadata: JSON.stringify({ tenant: 'acme' }) };
    const c = await t.client.dispatch({ agent: 'flaky', job: acme, audio: long });
    expect(await refusal(t.client.dispatch({ agent: 'flaky', job: acme, audio: long }))).toBe('over_limit');
    status = await t.client.status();
    expect(status.tenants).toEqual({ acme: 1 });

    // Cancel one steady session: its slot is free again.
    await t.pool.service.cancel(a.session, 'test frees a slot');
    await sessionsReach(t.client, [a], (s) => s.state === 'cancelled' || s.state === 'closed');
    const d = await t.client.dispatch({ agent: 'steady', audio: long });
    for (const s of [b, c, d]) await t.pool.service.cancel(s.session, 'test cleanup');
    await sessionsReach(t.client, [b, c, d], (s) => ['cancelled', 'closed', 'failed'].includes(s.state));
  });
});

describe('the per-agent circuit breaker (real processes)', () => {
  it('opens after 2 failed sessions, refuses with agent_unhealthy, lets a probe through after the cool-down, and closes on its success', async () => {
    writeFileSync(failFile, 'fail');
    for (let i = 0; i < 2; i++) {
      const s = await t.client.dispatch({ agent: 'flaky' });
      await sessionsReach(t.client, [s], 'failed');
    }
    const open = await waitFor('the flaky breaker to open', async (note) => {
      const s = await t.client.status(1000);
      note(s.breakers);
      return s.breakers?.find((b) => b.agent === 'flaky' && b.state === 'open');
    });
    expect(open.failures).toBe(2);
    expect(await refusal(t.client.dispatch({ agent: 'flaky' }))).toBe('agent_unhealthy');
    // Other agents are not affected.
    const other = await t.client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 100 } });
    await sessionsReach(t.client, [other], 'closed');

    rmSync(failFile);
    await waitFor(
      'the flaky breaker to go half open after its cool-down',
      async (note) => {
        const s = await t.client.status(1000);
        note(s.breakers);
        return s.breakers?.find((b) => b.agent === 'flaky' && b.state === 'half_open');
      },
      COOLDOWN_MS + 15_000,
    );
    const probe = await t.client.dispatch({ agent: 'flaky', audio: { kind: 'silence', durationMs: 4000 } });
    // While the probe runs, no second session is let through.
    expect(await refusal(t.client.dispatch({ agent: 'flaky' }))).toBe('agent_unhealthy');
    await sessionsReach(t.client, [probe], 'closed', 30_000);
    const closed = await waitFor('the flaky breaker to close', async (note) => {
      const s = await t.client.status(1000);
      note(s.breakers);
      return s.breakers?.find((b) => b.agent === 'flaky' && b.state === 'closed');
    });
    expect(closed.failures).toBe(0);
    const after = await t.client.dispatch({ agent: 'flaky', audio: { kind: 'silence', durationMs: 100 } });
    await sessionsReach(t.client, [after], 'closed');

    const transitions = t.lines
      .filter((l) => l.msg === 'agent circuit breaker' && l.agent === 'flaky')
      .map((l) => l.state);
    expect(transitions).toEqual(['open', 'half_open', 'closed']);
  });
});
