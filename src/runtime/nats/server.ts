import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** nats-server is not installed: the message carries the install hint. The CLI exits 2 on it. */
export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError';
  constructor(looked: string) {
    super(
      `nats-server not found (looked in ${looked}). Install it:\n` +
        '  Debian/Ubuntu: apt-get install -y nats-server\n' +
        '  macOS:         brew install nats-server\n' +
        '  or set NATS_SERVER_BIN=/path/to/nats-server, or pass --nats URL to use a running server',
    );
  }
}

/** Finds the nats-server binary: NATS_SERVER_BIN, then PATH, then the sbin folders Debian uses. */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_SERVER_BIN) {
    if (existsSync(env.NATS_SERVER_BIN)) return env.NATS_SERVER_BIN;
    throw new NatsServerNotFoundError(`NATS_SERVER_BIN=${env.NATS_SERVER_BIN}, which does not exist`);
  }
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/opt/homebrew/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new NatsServerNotFoundError('PATH, /usr/sbin, /usr/local/sbin and NATS_SERVER_BIN');
}

export interface NatsServerOptions {
  bin?: string;
  host?: string;
  /** -1 (default) picks a random free port. */
  port?: number;
  jetstream?: boolean;
  /** A nats-server config file (e.g. an authorization block). */
  configFile?: string;
  /** How long to wait for the server to listen. */
  startTimeoutMs?: number;
}

/** A nats-server child process on loopback, with its own temp dir; `stop()` removes both. */
export interface RunningNatsServer {
  url: string;
  port: number;
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and deletes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops the process but keeps the port and dir, so `start()` brings the same server back. */
  pause(): Promise<void>;
  start(): Promise<void>;
}

/** Starts a real nats-server and resolves once it accepts connections (its ports file appears). */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<RunningNatsServer> {
  const bin = opts.bin ?? findNatsServerBinary();
  const host = opts.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'openrtc-nats-'));
  let port = opts.port ?? -1;
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const args = ['-a', host, '-p', String(port), '--ports_file_dir', dir];
    if (opts.jetstream ?? true) args.push('-js', '-sd', join(dir, 'js'));
    if (opts.configFile) args.push('-c', opts.configFile);
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    // If this process exits without stopping us (a crash, process.exit), take the server along.
    const reap = () => proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    let exited: string | null = null;
    proc.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
    });
    proc.once('error', (err) => {
      exited = err.message;
    });
    const portsFile = `nats-server_${proc.pid}.ports`;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (exited)
        throw new Error(`nats-server ${exited} before listening: ${stderr.trim() || '(no output)'}`);
      if ((await readdir(dir)).includes(portsFile)) {
        const text = await readFile(join(dir, portsFile), 'utf8').catch(() => '');
        const url = (JSON.parse(text || '{}') as { nats?: string[] }).nats?.[0];
        if (url) {
          port = Number(new URL(url).port);
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    proc.kill('SIGKILL');
    throw new Error(
      `nats-server did not listen within ${opts.startTimeoutMs ?? 10_000} ms: ${stderr.trim()}`,
    );
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(timer);
    await rm(join(dir, `nats-server_${proc.pid}.ports`), { force: true });
  };

  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const server: RunningNatsServer = {
    url: `nats://${host}:${port}`,
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
    pause: kill,
    start: launch,
  };
  return server;
}
