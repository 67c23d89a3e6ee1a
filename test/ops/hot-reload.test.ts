import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolClient } from '../../src/runtime/client.ts';
import { useNatsServer } from '../support/nats.ts';
import {
  cancelOnWorker,
  readyWorkers,
  sessionsReach,
  startTestPool,
  type TestPool,
} from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

// The agents folder is outside the repository (a test never writes into the tree that typecheck
// and lint read while tests run). Its node_modules is a link to ours, so the agent's
// @livekit/agents is the worker's own copy (Node resolves the link to the same files).
const DEFINE = fileURLToPath(new URL('../../src/runtime/agents/define.ts', import.meta.url));
const nats = useNatsServer();
const openrtc = useOpenrtc();
const ranDir = mkdtempSync(join(tmpdir(), 'openrtc-reload-'));
const agents = join(ranDir, 'agents');
mkdirSync(agents);
writeFileSync(join(ranDir, 'package.json'), '{ "type": "module" }\n');
symlinkSync(
  fileURLToPath(new URL('../../node_modules', import.meta.url)),
  join(ranDir, 'node_modules'),
  'dir',
);
const agentFile = join(agents, 'reload.ts');
const ranLog = join(ranDir, 'ran.jsonl');
let t: TestPool;

/**
 * The agent, at code version `version`: every session it builds appends which process built it
 * with which version, so the test sees which code each session ran.
 */
function writeAgent(version: string): void {
  writeFileSync(
    agentFile,
    `import { appendFileSync } from 'node:fs';
import { voice } from '@livekit/agents';
import { defineAgent } from ${JSON.stringify(DEFINE)};

const VERSION = '${version}';

export default defineAgent({
  name: 'reload',
  agent: () => {
    appendFileSync(${JSON.stringify(ranLog)}, JSON.stringify({ pid: process.pid, version: VERSION }) + '\\n');
    return new voice.Agent({ instructions: 'reload ' + VERSION });
  },
});
`,
  );
}

/** Which code versions each worker process ran sessions with. */
function versionsByPid(): Map<number, Set<string>> {
  const by = new Map<number, Set<string>>();
  if (!existsSync(ranLog)) return by;
  for (const line of readFileSync(ranLog, 'utf8').split('\n').filter(Boolean)) {
    const { pid, version } = JSON.parse(line) as { pid: number; version: string };
    by.set(pid, (by.get(pid) ?? new Set()).add(version));
  }
  return by;
}

/** Waits until the latest rollout is `state` (after generation `after`); returns the status. */
function rolloutReaches(client: PoolClient, state: 'done' | 'failed', after: number) {
  return waitFor(
    `a rollout past generation ${after} ${state}`,
    async (note) => {
      const s = await client.status(1000);
      note({ rollout: s.rollout, generations: s.generations });
      return s.rollout && s.rollout.generation > after && s.rollout.state === state ? s : undefined;
    },
    45_000,
    100,
  );
}

beforeAll(async () => {
  writeAgent('v1');
  // A drained worker's sessions may run up to the drain timeout: longer than this test waits for A.
  t = await startTestPool(nats.url, {
    agentsDir: agents,
    workers: 1,
    capacity: 4,
    watch: true,
    drainTimeoutMs: 90_000,
  });
  await readyWorkers(t.client, 1);
});

afterAll(async () => {
  await t?.stop();
  rmSync(agents, { recursive: true, force: true });
  rmSync(ranDir, { recursive: true, force: true });
});

describe('hot reload in dev (real nats-server, worker processes, a watched agents folder)', () => {
  it('a session started on old code keeps it while a new dispatch gets the new code; a syntax error keeps the old generation serving and names the file', async () => {
    // Workers report their code version in heartbeats once prewarmed.
    const withCode = (generation: number) =>
      waitFor(`generation ${generation} with its code version`, async () => {
        const now = await t.client.status(1000);
        return now.workers.find((w) => w.generation === generation && w.code) ? now : undefined;
      });
    const before = await withCode(1);
    const oldWorker = before.workers[0];
    expect(before.generations).toMatchObject([{ generation: 1, serving: true }]);

    // A runs on v1 until the test cancels it, after both reloads: an end by command, not by a length
    // guessed to outlive them on a loaded machine (14 s did not; 30 s made this file wait 15 s idle
    // on a quiet one).
    const a = await t.client.dispatch({ agent: 'reload', audio: { kind: 'silence', durationMs: 180_000 } });
    expect(a.worker).toBe(oldWorker?.worker);
    await sessionsReach(t.client, [a], 'active');

    // Edit the agent: dev rolls out generation 2 by itself.
    writeAgent('v2');
    await rolloutReaches(t.client, 'done', 1);
    let s = await withCode(2);
    const newWorker = s.workers.find((w) => w.generation === 2);
    expect(newWorker?.code).toMatch(/^[0-9a-f]{16}$/);
    expect(newWorker?.code).not.toBe(oldWorker?.code);
    expect(s.generations).toMatchObject([
      { generation: 1, draining: true, serving: false, sessions: 1 },
      { generation: 2, serving: true, draining: false },
    ]);

    const b = await t.client.dispatch({ agent: 'reload', audio: { kind: 'silence', durationMs: 2000 } });
    expect(b.worker).toBe(newWorker?.worker);
    s = await sessionsReach(t.client, [a, b], (x) => x.state === 'active' || x.state === 'closed');
    // A still runs on its first worker, untouched by the reload.
    expect(s.sessions.find((x) => x.session === a.session)).toMatchObject({
      state: 'active',
      worker: a.worker,
    });

    // A syntax error: the new generation fails at import, generation 2 serves on.
    writeFileSync(
      agentFile,
      readFileSync(agentFile, 'utf8').replace("instructions: 'reload ' + VERSION", 'instructions: ('),
    );
    s = await rolloutReaches(t.client, 'failed', 2);
    const error = s.rollout?.error;
    expect(error?.message).toContain(agentFile);
    expect(error?.message).toContain('failed at import');
    const logged = t.lines.find((l) => l.msg === 'rollout failed: the old generation serves on') as
      | { err?: { message?: string } }
      | undefined;
    expect(logged?.err?.message).toContain(agentFile);
    await waitFor('the failed generation gone from status', async () => {
      const now = await t.client.status(1000);
      return now.workers.every((w) => w.generation !== 3) ? now : undefined;
    });
    const c = await t.client.dispatch({ agent: 'reload', audio: { kind: 'silence', durationMs: 1000 } });
    expect(c.worker).toBe(newWorker?.worker);
    // `openrtc rollout` meets the same error: exit 1, naming the file and the phase.
    const cli = openrtc(['rollout', '--nats', nats.url, '--pool', t.pool.pool]);
    expect(await exited(cli)).toBe(1);
    expect(cli.output()).toContain(agentFile);
    expect(cli.output()).toContain('failed at import');

    // B and C end closed; A outlived both reloads on its first worker, and ends when cancelled.
    // Each ran the code it started with.
    s = await sessionsReach(t.client, [b, c], 'closed', 60_000);
    expect(s.sessions.find((x) => x.session === a.session)).toMatchObject({
      state: 'active',
      worker: a.worker,
    });
    const ack = await cancelOnWorker(t.client, a, 'test: both reloads are done');
    expect(ack.type).toBe('ack');
    await sessionsReach(t.client, [a], 'cancelled');
    const ran = versionsByPid();
    expect(ran.get(oldWorker?.pid as number)).toEqual(new Set(['v1']));
    expect(ran.get(newWorker?.pid as number)).toEqual(new Set(['v2']));
    // One reload per edit (and the CLI's): the edits' own file events add none.
    expect(t.lines.filter((l) => l.msg === 'rollout: starting a new generation')).toHaveLength(3);
    // The drained worker left once its last session ended.
    await waitFor('the drained worker gone', async () => {
      const now = await t.client.status(1000);
      return now.workers.every((w) => w.worker !== oldWorker?.worker) ? now : undefined;
    });
    // A hang-catcher: this test boots several worker generations (or supervisors); on two cores shared
    // with other heavy work a worker took 15 s from spawn to its first line, and 60 s was not enough.
  }, 180_000);
});
