/**
 * startup: how fast the `openrtc` command starts, as a user runs it: from a build staged like an
 * installed package (bin/ and dist/, no src/, so no tsx for our own code), beside `node -e 0` in
 * the same run. Measures, each `runs` times, interleaved:
 *  - node_ms: `node -e 0`, the floor;
 *  - help_ms: `openrtc --help`;
 *  - status_ms: `openrtc status` against a running pool (a supervisor and one worker);
 *  - worker_ready_ms: `openrtc worker` from spawn to its `ready` log line (NATS connect, hello,
 *    Silero VAD and the agent modules loaded), from the build; worker_ready_src_ms: the same from
 *    the TypeScript sources through tsx, as a git clone without a build runs it.
 * Prints one JSON line with the medians and each one's ratio to node_ms.
 *
 *   npm run bench:startup [-- --quick | --smoke]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { benchLog, emit, ROOT, runBench } from './lib/report.ts';
import { median, round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('startup');
const RUNS = byMode(mode, { full: 9, quick: 5, smoke: 1 });
const TARGETS = { help_ms: 300, status_ms: 500, worker_ready_ms: 1200 };
const env = { ...process.env, NATS_URL: '', OPENRTC_LOG_LEVEL: 'info', OPENRTC_AGENTS_LOG_LEVEL: 'error' };

/** A package as npm installs it: bin/, dist/ (built here), package.json, node_modules; the example agents. */
function stagePackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'openrtc-startup-'));
  const build = spawnSync(process.execPath, [`${ROOT}scripts/build.mjs`, '--out', join(dir, 'dist')], {
    stdio: ['ignore', 2, 2],
  });
  if (build.status !== 0) throw new Error('the build failed');
  cpSync(`${ROOT}bin/openrtc.js`, join(dir, 'bin/openrtc.js'));
  cpSync(`${ROOT}package.json`, join(dir, 'package.json'));
  symlinkSync(`${ROOT}node_modules`, join(dir, 'node_modules'));
  // The agents import `openrtc`, which resolves to this package (its name and exports).
  mkdirSync(join(dir, 'agents'));
  cpSync(`${ROOT}examples/agents`, join(dir, 'agents'), { recursive: true });
  return dir;
}

/** Wall time of a command that runs to its end (ms). */
function timed(args: string[]): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Spawns a process and resolves with the time until a JSON log line on stderr matches. */
function until(
  args: string[],
  match: (line: Record<string, unknown>) => boolean,
  extraEnv: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ ms: number; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    let tail = '';
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
        if (match(line)) {
          clearTimeout(timer);
          child.stderr?.off('data', onData);
          child.stderr?.resume();
          resolve({ ms: performance.now() - started, child });
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

const stop = (child: ChildProcess) =>
  new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });

const isReady = (line: Record<string, unknown>) =>
  line.to === 'ready' && String(line.msg).startsWith('worker');

runBench(async () => {
  const pkg = stagePackage();
  const bin = join(pkg, 'bin/openrtc.js');
  const nats = await startNatsServer();
  const pool = 'startup';
  const children: ChildProcess[] = [];
  try {
    log.info({ pkg }, 'package staged; starting a supervisor and one worker from it');
    const sup = await until(
      [bin, 'supervisor', join(pkg, 'agents'), '--nats', nats.url, '--pool', pool],
      (l) => typeof l.msg === 'string' && l.msg.includes('running'),
    );
    children.push(sup.child);
    const resident = await until(
      [bin, 'worker', '--nats', nats.url, '--pool', pool, '--id', 'resident', '--json-logs'],
      isReady,
    );
    children.push(resident.child);
    // Workers from the sources join a pool of their own, on this checkout's example agents (in a
    // clone, `openrtc` resolves to src/ there).
    const srcSup = await until(
      [
        `${ROOT}bin/openrtc.js`,
        'supervisor',
        `${ROOT}examples/agents`,
        '--nats',
        nats.url,
        '--pool',
        `${pool}-src`,
      ],
      (l) => typeof l.msg === 'string' && l.msg.includes('running'),
      { OPENRTC_RUN_FROM: 'src' },
    );
    children.push(srcSup.child);

    const samples = {
      node_ms: [],
      help_ms: [],
      status_ms: [],
      worker_ready_ms: [],
      worker_ready_src_ms: [],
    } as Record<string, number[]>;
    const worker = async (key: string, id: string, runFrom: 'dist' | 'src') => {
      // From the staged package (dist), or from this checkout's sources through tsx.
      const args =
        runFrom === 'dist'
          ? [bin, 'worker', '--nats', nats.url, '--pool', pool]
          : [`${ROOT}bin/openrtc.js`, 'worker', '--nats', nats.url, '--pool', `${pool}-src`];
      args.push('--id', id, '--json-logs');
      const w = await until(args, isReady, { OPENRTC_RUN_FROM: runFrom });
      samples[key]?.push(w.ms);
      await stop(w.child);
    };
    for (let i = 0; i < RUNS; i++) {
      samples.node_ms?.push(timed(['-e', '0']));
      samples.help_ms?.push(timed([bin, '--help']));
      samples.status_ms?.push(timed([bin, 'status', '--nats', nats.url, '--pool', pool]));
      await worker('worker_ready_ms', `w${i}`, 'dist');
      await worker('worker_ready_src_ms', `s${i}`, 'src');
      log.info({ run: i + 1, of: RUNS }, 'startup run done');
    }
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v), 0)])) as Record<
      string,
      number
    >;
    const node = m.node_ms ?? Number.NaN;
    const ratio = (k: string) => round((m[k] ?? Number.NaN) / node, 1);
    emit({
      bench: 'startup',
      hardware: hardware(),
      mode,
      runs: RUNS,
      ...m,
      ratio_help: ratio('help_ms'),
      ratio_status: ratio('status_ms'),
      ratio_worker_ready: ratio('worker_ready_ms'),
      ratio_worker_ready_src: ratio('worker_ready_src_ms'),
      targets: TARGETS,
      met: Object.fromEntries(Object.entries(TARGETS).map(([k, t]) => [k, (m[k] ?? Infinity) <= t])),
    });
  } finally {
    for (const c of children.reverse()) await stop(c);
    await nats.stop();
    rmSync(pkg, { recursive: true, force: true });
  }
});
