import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach } from 'vitest';
import { OPENRTC_BIN } from '../../src/runtime/spawner.ts';
import { testOutput } from './output.ts';

export type OpenrtcProcess = ChildProcess & { output: () => string };

/**
 * Runs the real `openrtc` command as a child process, capturing its output; every process a
 * test starts this way is SIGKILLed after the test if still running.
 */
export function useOpenrtc(env: NodeJS.ProcessEnv = {}): (args: string[]) => OpenrtcProcess {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return (args) => {
    const child = spawn(process.execPath, [OPENRTC_BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OPENRTC_LOG_LEVEL: 'info', OPENRTC_AGENTS_LOG_LEVEL: 'error', ...env },
    });
    let out = '';
    // Kept for the test's assertions, and in its output buffer (printed if the test fails).
    const keep = (d: Buffer) => {
      out += d;
      testOutput.write(d);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(child);
    return Object.assign(child, { output: () => out });
  };
}

/** Resolves with the exit code once the process has exited. */
export function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((r) =>
    c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code)),
  );
}

/** The JSON log lines a process printed with message `msg` (other output is skipped). */
export function logLines(p: OpenrtcProcess, msg: string): Record<string, unknown>[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === msg);
}
