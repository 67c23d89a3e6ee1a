import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from './logger.ts';
import { RUN_FROM } from './run-from.ts';

/** The `openrtc` entry point; workers are started as `openrtc worker ...` child processes. */
export const OPENRTC_BIN = fileURLToPath(new URL('../../bin/openrtc.js', import.meta.url));

export interface WorkerExit {
  worker: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnWorkerOptions {
  worker: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  log: Logger;
  onExit: (exit: WorkerExit) => void;
  /**
   * Where the worker's stdout and stderr go. Absent: straight to our stderr (the file descriptor
   * is inherited, so a worker outlives us without a broken pipe). Tests collect it per test.
   */
  output?: (chunk: Buffer) => void;
}

/**
 * Starts and stops local worker processes. Stdio carries logs only: every word between
 * supervisor and worker goes over NATS, never over fork IPC.
 */
export class ProcessSpawner {
  private readonly children = new Map<string, ChildProcess>();

  spawn(opts: SpawnWorkerOptions): number {
    const child = spawn(process.execPath, [OPENRTC_BIN, 'worker', ...opts.args], {
      // Both of the worker's streams go to our stderr: agents-js logs to stdout, and our stdout is
      // for command output (`--json`, one-line benchmarks).
      stdio: opts.output ? ['ignore', 'pipe', 'pipe'] : ['ignore', 2, 2],
      // The worker runs the same copy of openrtc as we do: the build, or the sources (bin/openrtc.js).
      env: { ...process.env, OPENRTC_RUN_FROM: RUN_FROM, ...opts.env },
    });
    if (opts.output) {
      child.stdout?.on('data', opts.output);
      child.stderr?.on('data', opts.output);
    }
    const pid = child.pid ?? -1;
    this.children.set(opts.worker, child);
    child.once('exit', (code, signal) => {
      if (this.children.get(opts.worker) === child) this.children.delete(opts.worker);
      opts.onExit({ worker: opts.worker, pid, code, signal });
    });
    child.once('error', (err) =>
      opts.log.error({ worker: opts.worker, err: err.message }, 'worker spawn failed'),
    );
    return pid;
  }

  pid(worker: string): number | undefined {
    return this.children.get(worker)?.pid;
  }

  /** Live child pids, by worker id. */
  pids(): Record<string, number> {
    return Object.fromEntries([...this.children].map(([id, c]) => [id, c.pid ?? -1]));
  }

  kill(worker: string, signal: NodeJS.Signals = 'SIGTERM'): void {
    this.children.get(worker)?.kill(signal);
  }

  /** Waits for every child to exit; SIGKILLs the ones still alive after `graceMs`. */
  async stopAll(graceMs: number, signal: NodeJS.Signals | null = 'SIGTERM'): Promise<void> {
    const alive = [...this.children.values()];
    const exits = alive.map(
      (c) =>
        new Promise<void>((r) =>
          c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
        ),
    );
    if (signal) for (const c of alive) c.kill(signal);
    const timer = setTimeout(() => {
      for (const c of alive) c.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
  }
}
