import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useNatsServer } from '../support/nats.ts';
import { ROOT, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';
import { recordFigure } from './figures.ts';

const nats = useNatsServer();
const FIXTURES = `${ROOT}test/fixtures/agents`;

describe('crash-looping agents', () => {
  let t: TestPool;
  beforeAll(async () => {
    t = await startTestPool(nats.url, { agentsDir: `${FIXTURES}/crashloop`, workers: 1 });
    await readyWorkers(t.client, 1);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('a module that throws at import is left out with an error naming the file and the phase; the other agents are registered', () => {
    expect(t.pool.registry.map((a) => a.name).sort()).toEqual(['session-throws', 'steady']);
    const line = t.lines.find((l) => l.msg === 'agent not loaded');
    expect(line?.file).toMatch(/import-throws\.ts$/);
    expect(String(line?.err)).toContain('cannot reach the menu database');
  });

  it('a session whose agent throws when it starts fails alone, naming the phase; other agents keep serving on the same worker', async () => {
    const bad = await t.client.dispatch({
      agent: 'session-throws',
      audio: { kind: 'silence', durationMs: 100 },
    });
    const good = await t.client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 300 } });
    const s = await waitFor('both sessions ended', async () => {
      const st = await t.client.status();
      const ended = [bad, good].every((d) =>
        ['closed', 'failed'].includes(st.sessions.find((x) => x.session === d.session)?.state ?? ''),
      );
      return ended ? st : undefined;
    });
    const b = s.sessions.find((x) => x.session === bad.session);
    expect(b?.state).toBe('failed');
    expect(b?.error?.message).toContain('agent factory exploded');
    // The code names the phase it failed in: the session's prewarm, where the agent is built.
    expect(b?.error?.code).toBe('prewarm_failed');
    expect(s.sessions.find((x) => x.session === good.session)?.state).toBe('closed');
    expect(s.workers[0]?.restarts).toBe(0);
  });
});

describe('an agent whose prewarm always throws', () => {
  it('makes its workers crash-loop until the restart intensity gives them up: the pool reports degraded, names the file and the phase, and keeps answering', async () => {
    const t = await startTestPool(nats.url, {
      agentsDir: `${FIXTURES}/prewarm-fails`,
      workers: 1,
      policy: { intensity: { maxRestarts: 2, periodMs: 60_000 }, backoff: { initialMs: 100, maxMs: 500 } },
    });
    try {
      const started = Date.now();
      const status = await waitFor(
        'the worker given up',
        async () => {
          const s = await t.client.status();
          return s.workers[0]?.supervision === 'given_up' ? s : undefined;
        },
        60_000,
        200,
      );
      recordFigure('prewarm_crash_loop', { max_restarts: 2, given_up_ms: Date.now() - started });
      expect(status.health).toBe('degraded');
      expect(status.workers[0]?.restarts).toBe(2);
      expect(status.workers[0]?.error?.message).toMatch(
        /agent 'flaky-model' \(.*flaky-model\.ts\) failed at prewarm: model file missing/,
      );
      expect(t.lines.some((l) => String(l.msg).startsWith('worker given up'))).toBe(true);
      // The supervisor still answers: a dispatch gets a clear refusal, not silence.
      await expect(t.client.dispatch({ agent: 'flaky-model' })).rejects.toThrow(/no_capacity|capacity/);
    } finally {
      await t.stop();
    }
  }, 90_000);
});
