/**
 * startup: how fast the `openrtc` command starts, as a user runs it: from a build staged like an
 * installed package (bin/ and dist/, no src/, so no tsx for our own code), beside `node -e 0` in
 * the same run. Measures, each `runs` times, interleaved:
 *  - node_ms: `node -e 0`, the floor;
 *  - help_ms: `openrtc --help`;
 *  - status_ms: `openrtc status` against a running pool (a supervisor and one worker);
 *  - worker_ready_ms: `openrtc worker` from spawn to its `ready` log line (NATS connect, hello,
 *    Silero VAD and the agent modules loaded), from the build; worker_ready_src_ms: the same from
 *    the TypeScript sources through tsx, as a git clone without a build runs it;
 *  - worker_boot_ms: the build's workers' own timeline (median end of each step, ms since their
 *    process started: main, connected, sessionRuntime, welcomed, vad, agents, prewarmed).
 * Prints one JSON line with the medians and each one's ratio to node_ms.
 *
 *   npm run bench:startup [-- --quick | --smoke]
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { benchLog, emit, ROOT, runBench } from './lib/report.ts';
import { isReady, stagePackage, stop, timed, until } from './lib/stage.ts';
import { median, round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('startup');
const RUNS = byMode(mode, { full: 9, quick: 5, smoke: 1 });
const TARGETS = { help_ms: 300, status_ms: 500, worker_ready_ms: 1200 };

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
    /** The build's workers' own boot timelines (their `worker boot timeline` line), step by step. */
    const boot: Record<string, number[]> = {};
    const worker = async (key: string, id: string, runFrom: 'dist' | 'src') => {
      // From the staged package (dist), or from this checkout's sources through tsx.
      const args =
        runFrom === 'dist'
          ? [bin, 'worker', '--nats', nats.url, '--pool', pool]
          : [`${ROOT}bin/openrtc.js`, 'worker', '--nats', nats.url, '--pool', `${pool}-src`];
      args.push('--id', id, '--json-logs');
      const w = await until(args, isReady, { OPENRTC_RUN_FROM: runFrom });
      samples[key]?.push(w.ms);
      const timeline = w.lines.find((l) => l.msg === 'worker boot timeline')?.sinceStartMs;
      if (runFrom === 'dist' && timeline && typeof timeline === 'object') {
        for (const [step, ms] of Object.entries(timeline)) boot[step] = [...(boot[step] ?? []), Number(ms)];
      }
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
      // Medians of each step's end, in ms since the worker process started (src/runtime/worker/run.ts).
      worker_boot_ms: Object.fromEntries(Object.entries(boot).map(([k, v]) => [k, round(median(v), 0)])),
      targets: TARGETS,
      met: Object.fromEntries(Object.entries(TARGETS).map(([k, t]) => [k, (m[k] ?? Infinity) <= t])),
    });
  } finally {
    for (const c of children.reverse()) await stop(c);
    await nats.stop();
    rmSync(pkg, { recursive: true, force: true });
  }
});
