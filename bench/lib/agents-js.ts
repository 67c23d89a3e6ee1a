import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Logger } from '../../src/runtime/logger.ts';
import { descendants, isAlive } from './proc.ts';
import { ROOT } from './report.ts';

/** The baseline's agent file: prewarm loads Silero, entry runs a voice AgentSession. */
export const BASELINE_AGENT = `${ROOT}bench/baseline/agent.mjs`;
const SERVER = `${ROOT}bench/baseline/agents-js-server.mjs`;

/** The baseline's agent for real sessions (bench/baseline/session-agent.mjs). */
export const SESSION_AGENT = `${ROOT}bench/baseline/session-agent.mjs`;

/** The baseline's agent for the capacity benchmark (bench/baseline/capacity-agent.mjs). */
export const CAPACITY_AGENT = `${ROOT}bench/baseline/capacity-agent.mjs`;

/** What the baseline's job processes run of ours, by name: its source file. */
const FOR_BASELINE = {
  'local-transport': 'src/runtime/voice/local-transport.ts',
  'session-vad': 'src/runtime/voice/session-vad.ts',
  'loop-probe': 'bench/capacity/loop-probe.ts',
} as const;

/**
 * Bundles one of our modules for plain node, packages left external, into node_modules/.cache
 * (untracked): the baseline's job processes run the same code as our workers and probes where both
 * must do the same (the local audio input and output; the VAD view that reports speech boundaries;
 * the event-loop probe), without a TypeScript loader. Returns the file.
 */
export function bundleForBaseline(module: keyof typeof FOR_BASELINE): string {
  const dir = `${ROOT}node_modules/.cache/openrtc-bench`;
  mkdirSync(dir, { recursive: true });
  const out = `${dir}/${module}.mjs`;
  execFileSync(
    `${ROOT}node_modules/.bin/esbuild`,
    [
      `${ROOT}${FOR_BASELINE[module]}`,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      '--log-level=warning',
      `--outfile=${out}`,
    ],
    { stdio: ['ignore', 2, 2] },
  );
  return out;
}

/** Our local audio input and output, bundled for the baseline's job processes. */
export const bundleLocalTransport = () => bundleForBaseline('local-transport');

/** A process of agents-js's pool that finished initializing (fork → initializeResponse). */
export interface InitializedProc {
  kind: 'job' | 'inference';
  pid: number;
  initMs: number;
}

type ServerMessage =
  | { type: 'started'; pid: number }
  | ({ type: 'proc' } & InitializedProc)
  | { type: 'error'; message: string }
  | { type: 'closed' };

/**
 * agents-js's real AgentServer/ProcPool in a child process under plain node, with `idle`
 * prewarmed job processes (plus the inference process agents-js starts for its local turn
 * detector). Ends with `stop()`.
 */
export class AgentsJsPool {
  readonly procs: InitializedProc[] = [];
  private waiters: (() => void)[] = [];
  private failure: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly log: Logger,
  ) {
    child.on('message', (m: ServerMessage) => {
      if (m.type === 'proc') this.procs.push({ kind: m.kind, pid: m.pid, initMs: m.initMs });
      if (m.type === 'error') {
        this.failure = m.message;
        log.warn({ err: m.message }, 'agents-js server reported an error');
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.on('exit', () => {
      this.failure ??= 'the agents-js server process exited';
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Starts the AgentServer process; its pool begins forking job processes at once. */
  static start(opts: {
    idle: number;
    log: Logger;
    agent?: string;
    /** A LiveKit server (the protocol double) to register with and take jobs from. */
    livekit?: { url: string; apiKey: string; apiSecret: string; agentName: string };
    /** Extra environment for the server and its job processes. */
    env?: NodeJS.ProcessEnv;
  }): AgentsJsPool {
    const args = [opts.agent ?? BASELINE_AGENT, String(opts.idle)];
    if (opts.livekit) args.push(JSON.stringify(opts.livekit));
    const child = fork(SERVER, args, {
      execArgv: [], // plain node: no tsx loader in the baseline's processes
      stdio: ['ignore', 2, 2, 'ipc'],
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
    });
    return new AgentsJsPool(child, opts.log);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  jobs(): InitializedProc[] {
    return this.procs.filter((p) => p.kind === 'job');
  }

  /** Resolves once `n` job processes have initialized (prewarm included). */
  async waitJobs(n: number, timeoutMs: number): Promise<InitializedProc[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.jobs().length < n) {
      if (this.failure && !isAlive(this.pid)) throw new Error(`agents-js baseline: ${this.failure}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`agents-js baseline: ${this.jobs().length}/${n} job processes ready`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      if (this.jobs().length % 10 === 0 && this.jobs().length > 0)
        this.log.debug({ ready: this.jobs().length, of: n }, 'agents-js job processes ready');
    }
    return this.jobs().slice(0, n);
  }

  /**
   * Closes the AgentServer (it shuts its processes down), then kills whatever is left and waits
   * until it is gone: a job process killed a moment ago can still write its files.
   */
  async stop(graceMs = 15_000): Promise<void> {
    const tree = [this.pid, ...descendants(this.pid)];
    if (isAlive(this.pid)) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.send({ type: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
    }
    const all = [...tree, ...descendants(this.pid)];
    for (const pid of all) {
      if (isAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    const gone = Date.now() + graceMs;
    while (all.some(isAlive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  }
}
