import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './report.ts';

/**
 * A package as npm installs it, in a temporary folder: bin/, dist/ (built here), package.json and
 * node_modules (a link to this checkout's), no src/, so `openrtc` runs its build without tsx; and
 * the example agents in agents/ (they import `openrtc`, which resolves to this package).
 */
export function stagePackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openrtc-startup-'));
  const build = spawnSync(process.execPath, [`${ROOT}scripts/build.mjs`, '--out', join(dir, 'dist')], {
    stdio: ['ignore', 2, 2],
  });
  if (build.status !== 0) throw new Error('the build failed');
  cpSync(`${ROOT}bin/openrtc.js`, join(dir, 'bin/openrtc.js'));
  cpSync(`${ROOT}package.json`, join(dir, 'package.json'));
  symlinkSync(`${ROOT}node_modules`, join(dir, 'node_modules'));
  mkdirSync(join(dir, 'agents'));
  cpSync(`${ROOT}examples/agents`, join(dir, 'agents'), { recursive: true });
  return dir;
}

/** The environment every measured process gets: no NATS_URL, info logs, agents-js quiet. */
export const env = {
  ...process.env,
  NATS_URL: '',
  OPENRTC_LOG_LEVEL: 'info',
  OPENRTC_AGENTS_LOG_LEVEL: 'error',
};

/** Wall time of a command that runs to its end (ms). */
export function timed(args: string[]): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/**
 * Spawns a process and resolves with the time until a JSON log line on stderr matches, and the
 * lines up to that one.
 */
export function until(
  args: string[],
  match: (line: Record<string, unknown>) => boolean,
  extraEnv: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ ms: number; child: ChildProcess; lines: Record<string, unknown>[] }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    let tail = '';
    const lines: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')}: no matching line after ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d;
      tail = (tail + d).slice(-2000);
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(line);
        if (match(line)) {
          clearTimeout(timer);
          child.stderr?.off('data', onData);
          child.stderr?.resume();
          resolve({ ms: performance.now() - started, child, lines });
        }
      }
    };
    child.stdout?.resume();
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited ${code} before the line it waited for:\n${tail}`));
    });
  });
}

/** Stops a process with SIGTERM and resolves when it has exited. */
export const stop = (child: ChildProcess) =>
  new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });

/** A worker's `ready` transition log line. */
export const isReady = (line: Record<string, unknown>) =>
  line.to === 'ready' && String(line.msg).startsWith('worker');
