import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { FromProbe, ToProbe } from './messages.ts';

/**
 * A probe process (vad-only.ts or worker.ts) forked with IPC. Its stdout carries agents-js's log
 * lines: they are counted (Silero's "slower than realtime" warnings), never printed to our stdout.
 */
export class ProbeProcess {
  slowWarnings = 0;
  private readonly pending: { type: FromProbe['type']; resolve: (m: FromProbe) => void }[] = [];
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromProbe) => {
      const at = this.pending.findIndex((p) => p.type === m.type);
      if (at >= 0) this.pending.splice(at, 1)[0]?.resolve(m);
    });
    child.on('exit', () => {
      this.exited = true;
    });
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('slower than realtime')) this.slowWarnings += 1;
      });
    }
  }

  /** Forks `script` (TypeScript, through the loader this process runs under) and waits for `ready`. */
  static async start(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProbeProcess> {
    const child = fork(script, args, {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    });
    const probe = new ProbeProcess(child);
    await probe.next('ready', 60_000);
    return probe;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Sends a request and resolves with the first answer of `answer` type. */
  async ask<T extends FromProbe['type']>(
    msg: ToProbe,
    answer: T,
    timeoutMs = 120_000,
  ): Promise<Extract<FromProbe, { type: T }>> {
    const reply = this.next(answer, timeoutMs);
    this.child.send(msg);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.disconnect?.();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  private next<T extends FromProbe['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<FromProbe, { type: T }>> {
    return new Promise((resolve, reject) => {
      const entry = {
        type,
        resolve: (m: FromProbe) => {
          clearTimeout(timer);
          resolve(m as Extract<FromProbe, { type: T }>);
        },
      };
      const timer = setTimeout(() => {
        this.pending.splice(this.pending.indexOf(entry), 1);
        reject(new Error(`probe process ${this.pid}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push(entry);
    });
  }
}
