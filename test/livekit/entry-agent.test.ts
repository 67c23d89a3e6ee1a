import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkerStatus } from '@livekit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServerDouble, startLiveKitServerDouble } from '../support/livekit-server-double.ts';
import { useNatsServer } from '../support/nats.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

/**
 * agents-js agent modules, unchanged (defineAgent({ prewarm, entry }) from '@livekit/agents', then
 * cli.runApp), in a pool started as a user starts it. Every import of them happens in the pool's
 * processes: see the note in the fixtures.
 */
const nats = useNatsServer();
const env: NodeJS.ProcessEnv = {};
const openrtc = useOpenrtc(env);
const AGENTS = fileURLToPath(new URL('../fixtures/agents/agents-js', import.meta.url));
const ECHO = join(AGENTS, 'echo.ts');

describe('an agents-js entry agent in a pool', () => {
  let lk: LiveKitServerDouble;
  const dir = mkdtempSync(join(tmpdir(), 'openrtc-entry-'));
  const marks = join(dir, 'marks.jsonl');
  const read = (): Record<string, unknown>[] => {
    try {
      return readFileSync(marks, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  };
  beforeAll(async () => {
    lk = await startLiveKitServerDouble();
  });
  afterAll(async () => {
    await lk?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prewarms once per agent with its own userData, runs entry(ctx) up to the room join of a LiveKit job, and refuses the local transport by name', async () => {
    const pool = `entry${Date.now() % 100000}`;
    Object.assign(env, {
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      OPENRTC_TEST_MARKS: marks,
    });
    const start = openrtc([
      'start',
      AGENTS,
      '--nats',
      nats.url,
      '--pool',
      pool,
      '--workers',
      '1',
      // One worker process: no hot spare, whose prewarm would be a second one.
      '--spares',
      '0',
      '--drain-timeout',
      '1000',
    ]);
    await lk.next('updateWorker', (u) => u.status === WorkerStatus.WS_AVAILABLE, 60_000);
    // agents-js's CLI did not start (it would have parsed our argv and exited).
    expect(start.exitCode).toBeNull();
    const output = start.output();
    expect(output).toMatch(/"count":2,"agents":\["echo","greeter-line"\][^\n]*"msg":"agents registered"/);

    // In each worker process (the serving one, and a spare if any), each agent's prewarm ran once,
    // each on a userData of its own.
    const prewarms = read().filter((m) => m.event === 'prewarm');
    const pids = [...new Set(prewarms.map((m) => m.pid))];
    expect(pids.length).toBeGreaterThanOrEqual(1);
    for (const pid of pids) {
      expect(prewarms.filter((m) => m.pid === pid).map((m) => [m.agent, m.userDataBefore])).toEqual([
        ['echo', []],
        ['greeter', []],
      ]);
    }

    const [outcome] = await lk.dispatch({ room: 'echo-1' });
    expect(outcome?.ok).toBe(true);
    const jobId = outcome?.job.id as string;
    const joined = await waitFor(
      'the agent joining room echo-1',
      async () => lk.joins.find((j) => j.room === 'echo-1'),
      30_000,
      50,
    );
    expect(joined.identity).toBe(`agent-${jobId}`);
    const entry = read().find((m) => m.event === 'entry');
    expect(entry).toMatchObject({
      agent: 'echo',
      job: jobId,
      room: 'echo-1',
      owner: 'echo',
      sameContext: true,
    });
    expect(pids).toContain(entry?.pid);

    // The local transport has no room: the session fails with a message that says so.
    const local = openrtc(['dispatch', '--nats', nats.url, '--pool', pool, '--agent', 'echo', '--wait']);
    expect(await exited(local)).toBe(1);
    expect(local.output()).toContain(`${ECHO} is an agents-js entry agent`);
    expect(local.output()).toContain('this session has the local transport (no room)');

    // The worker did not crash over it.
    const status = openrtc(['status', '--nats', nats.url, '--pool', pool, '--json']);
    expect(await exited(status)).toBe(0);
    const reply = status
      .output()
      .split('\n')
      .find((l) => l.startsWith('{'));
    const workers = JSON.parse(reply as string).workers;
    expect(workers.length).toBeGreaterThanOrEqual(1);
    for (const w of workers as { state: string; restarts: number }[])
      expect([w.state, w.restarts]).toEqual(['ready', 0]);

    start.kill('SIGTERM');
    await exited(start);
  }, 120_000);
});
