import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { machineToMermaid } from '../../src/actors/diagram.ts';
import { machineExports } from '../../src/actors/exports.ts';
import { MACHINES } from '../../src/actors/machines.ts';
import { SESSION_STATES, WORKER_STATES } from '../../src/protocol/index.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const script = join(root, 'scripts', 'export-machines.ts');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const scratch = mkdtempSync(join(tmpdir(), 'machines-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('machine diagrams', () => {
  it('the checked-in docs/machines are exactly what the machines export (run npm run machines)', () => {
    for (const [file, text] of Object.entries(machineExports())) {
      const checkedIn = readFileSync(join(root, 'docs', 'machines', file), 'utf8');
      expect(checkedIn, `docs/machines/${file} is stale`).toBe(text);
    }
  });

  it('the session and worker machines name exactly the protocol states', () => {
    const topLevel = (name: keyof typeof MACHINES) => Object.keys(MACHINES[name].root.states).sort();
    expect(topLevel('session')).toEqual([...SESSION_STATES].sort());
    expect(topLevel('worker')).toEqual([...WORKER_STATES].sort());
  });

  it('mermaid output draws every state and transition label', () => {
    const text = machineToMermaid(MACHINES.session);
    expect(text.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(text).toContain('attempting --> backoff: error connect [canRetryConnect] / scheduleRetry');
    expect(text).toContain('active --> closing: CANCEL / cancel');
    expect(text).toContain('closed --> [*]');
    expect(text).not.toContain('closed --> closing');
  });

  it('JSON output is deterministic plain data', () => {
    const a = machineExports()['worker.json'] as string;
    expect(machineExports()['worker.json']).toBe(a);
    expect(JSON.parse(a)).toMatchObject({ id: 'worker', states: { ready: { type: 'atomic' } } });
  });

  it('the export script writes, then --check passes, and --check fails on a stale file', async () => {
    await run(tsx, [script, '--dir', scratch], { cwd: root });
    const ok = await run(tsx, [script, '--check', '--dir', scratch], { cwd: root });
    expect(ok.stdout).toContain('up to date');
    writeFileSync(join(scratch, 'session.mmd'), 'stateDiagram-v2\n');
    const stale = await run(tsx, [script, '--check', '--dir', scratch], { cwd: root }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(stale?.code).toBe(1);
    expect(stale?.stderr).toContain('session.mmd');
  });
});
