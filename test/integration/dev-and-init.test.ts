import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_AGENTS } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const home = mkdtempSync(join(tmpdir(), 'openrtc-dev-'));
/** The user's state folder: `openrtc dev` records its pool under it. */
const env: NodeJS.ProcessEnv = { XDG_STATE_HOME: join(home, 'state'), NATS_URL: '' };
const openrtc = useOpenrtc(env);
const record = join(home, 'state', 'openrtc', 'dev.json');

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('local dev discovery', () => {
  it('status finds the running `openrtc dev` without --nats; a stopped one is not used', async () => {
    const dev = openrtc([
      'dev',
      EXAMPLE_AGENTS,
      '--workers',
      '1',
      '--spares',
      '0',
      '--no-inspect',
      '--pool',
      'devpool',
    ]);
    const rec = await waitFor('the dev record', () =>
      existsSync(record) ? JSON.parse(readFileSync(record, 'utf8')) : undefined,
    );
    expect(rec).toMatchObject({ pool: 'devpool', pid: dev.pid, agents: EXAMPLE_AGENTS });
    const status = openrtc(['status', '--json']);
    expect(await exited(status)).toBe(0);
    expect(status.output()).toContain(`using openrtc dev (pid ${dev.pid}): pool 'devpool' at ${rec.url}`);
    expect(status.output()).toContain('"pool":"devpool"');

    dev.kill('SIGINT');
    expect(await exited(dev)).toBe(0);
    expect(existsSync(record)).toBe(false); // removed on a clean stop

    // A record left by a process that is gone (a crash) is ignored, and the error says so.
    mkdirSync(join(home, 'state', 'openrtc'), { recursive: true });
    writeFileSync(record, JSON.stringify({ ...rec, pid: 2 ** 22 + 1 }));
    const stale = openrtc(['status']);
    expect(await exited(stale)).toBe(2);
    expect(stale.output()).toContain(
      `no NATS server given: pass --nats nats://host:port or set NATS_URL; the openrtc dev recorded in ${record} (pid ${2 ** 22 + 1}) is gone`,
    );
  }, 90_000);

  it('a NATS server that cannot be reached is named in the error', async () => {
    const status = openrtc(['status', '--nats', 'nats://127.0.0.1:1']);
    expect(await exited(status)).toBe(2);
    expect(status.output()).toContain('openrtc: cannot reach NATS at nats://127.0.0.1:1: connection refused');
  });

  it('a pool with no loadable agent exits 2, naming each file and its error', async () => {
    const dir = join(home, 'broken-agents');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'a.ts'), 'export const notAnAgent = 1;\n');
    writeFileSync(join(dir, 'b.ts'), "throw new Error('no database');\n");
    const dev = openrtc(['dev', dir, '--workers', '1', '--spares', '0', '--no-inspect']);
    expect(await exited(dev)).toBe(2);
    expect(dev.output()).toContain(`${dir}: no agent could be loaded`);
    expect(dev.output()).toContain(`${join(dir, 'a.ts')}: no default export`);
    expect(dev.output()).toContain(`${join(dir, 'b.ts')}: import failed: no database`);
  });
});

describe('openrtc init', () => {
  it('writes a project with an agent and its test, and refuses to overwrite it', async () => {
    const dir = join(home, 'my-agents');
    const init = openrtc(['init', dir]);
    expect(await exited(init)).toBe(0);
    for (const f of ['package.json', 'tsconfig.json', 'agents/hello.ts', 'test/hello.test.ts'])
      expect(existsSync(join(dir, f))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual([
      '@livekit/agents',
      '@livekit/agents-plugin-silero',
      '@livekit/rtc-node',
      'openrtc',
    ]);
    expect(readFileSync(join(dir, 'test/hello.test.ts'), 'utf8')).toContain("from 'openrtc/testing'");
    const again = openrtc(['init', dir]);
    expect(await exited(again)).toBe(2);
    expect(again.output()).toContain(`${dir} already has tsconfig.json, .gitignore, agents/hello.ts`);
  });
});
