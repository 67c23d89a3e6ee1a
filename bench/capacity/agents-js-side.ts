/**
 * capacity's agents-js side: how many process-per-job sessions this machine sustains under the
 * criterion our workers are judged by (capacity/verdict.ts). agents-js's own AgentServer takes jobs
 * from the LiveKit protocol double and forks a process per job; each job runs the same session on
 * the same audio, looping in real time (bench/baseline/capacity-agent.mjs), measured by the same
 * loop probe.
 *
 * A probe of N starts a fresh AgentServer with N prewarmed processes, dispatches N jobs, and waits
 * until the N processes agents-js forks to replace them have initialized too: they are idle by the
 * window, as they would be on a production machine between jobs. Then, as for our workers: a
 * settle period, and a window in which every job process measures its event loop. Sustained when
 * the worst process's loop delay p99 is within bounds, every session heard speech, and none heard
 * it later than a real-time VAD would.
 */
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/runtime/logger.ts';
import { startLiveKitServerDouble } from '../../test/support/livekit-server-double.ts';
import { AgentsJsPool, bundleForBaseline, CAPACITY_AGENT } from '../lib/agents-js.ts';
import { AUDIO } from '../lib/pool.ts';
import { isAlive } from '../lib/proc.ts';
import type { LoopSample } from './messages.ts';
import { findLimit, type SearchOptions } from './search.ts';
import { judge, type Verdict } from './verdict.ts';

interface JobStatus {
  pid: number;
  audioStartTs: number;
  speech: { kind: 'start' | 'end'; atMs: number; ts: number }[];
  sample?: { seq: number; loop: LoopSample };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A probe whose sessions never all got going: the machine did not sustain them. */
class NotReached extends Error {}

export async function agentsJsCapacity(o: {
  log: Logger;
  cores: number;
  settleMs: number;
  windowMs: number;
  search: Omit<SearchOptions, 'max'>;
  max: number;
}): Promise<{ limit: number; probes: Verdict[] }> {
  const env = {
    OPENRTC_BENCH_LOCAL_TRANSPORT: bundleForBaseline('local-transport'),
    OPENRTC_BENCH_SESSION_VAD: bundleForBaseline('session-vad'),
    OPENRTC_BENCH_LOOP_PROBE: bundleForBaseline('loop-probe'),
  };
  const verdicts: Verdict[] = [];
  let probeNo = 0;
  const probe = async (n: number) => {
    probeNo++;
    const double = await startLiveKitServerDouble({ seed: probeNo });
    const dir = mkdtempSync(join(tmpdir(), 'openrtc-capacity-agents-js-'));
    const agentName = 'capacity';
    const pool = AgentsJsPool.start({
      idle: n,
      log: o.log,
      agent: CAPACITY_AGENT,
      livekit: { url: double.url, apiKey: double.apiKey, apiSecret: double.apiSecret, agentName },
      env: { ...env, OPENRTC_BENCH_STATUS_DIR: dir },
    });
    const statuses = (): JobStatus[] =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.json') && f !== 'window.json')
        .flatMap((f) => {
          try {
            return [JSON.parse(readFileSync(join(dir, f), 'utf8')) as JobStatus];
          } catch {
            return []; // renamed away meanwhile: the next read has it
          }
        });
    const until = async (what: string, ok: () => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!ok()) {
        if (Date.now() > deadline) throw new NotReached(`${what} not reached in ${timeoutMs / 1000} s`);
        await sleep(100);
      }
    };
    try {
      await pool.waitJobs(n, 60_000 + n * 5_000);
      await until(
        'registration with the LiveKit double',
        () => Boolean(double.worker(agentName)?.workerId),
        30_000,
      );
      for (let j = 0; j < n; j++) {
        const i = (probeNo * 1000 + j) % 2;
        const [outcome] = await double.dispatch({
          room: `capacity-${probeNo}-${j}`,
          agentName,
          metadata: JSON.stringify({
            path: i ? AUDIO.dental : AUDIO.restaurant,
            realtime: true,
            loops: 10_000,
          }),
        });
        if (!outcome?.ok) throw new Error(`the double could not place job ${j}: ${JSON.stringify(outcome)}`);
      }
      await until(`${n} sessions with audio`, () => statuses().length === n, 60_000 + n * 5_000);
      // The processes agents-js forks to replace the ones the jobs took: idle before the window.
      // A machine that cannot boot them beside the N live sessions does not sustain N.
      await pool.waitJobs(2 * n, 60_000 + n * 5_000).catch((err: Error) => {
        if (!isAlive(pool.pid)) throw err; // the server died: an error, not a verdict
        throw new NotReached(`${n} replacement job processes booting beside the sessions: ${err.message}`);
      });
      const from = Date.now();
      await sleep(o.settleMs);
      const seq = probeNo;
      writeFileSync(join(dir, 'window.tmp'), JSON.stringify({ seq, windowMs: o.windowMs }));
      renameSync(join(dir, 'window.tmp'), join(dir, 'window.json'));
      await until(
        'every job sampled its window',
        () => {
          const s = statuses();
          return s.length === n && s.every((x) => x.sample?.seq === seq);
        },
        o.windowMs + 30_000,
      );
      const to = Date.now();
      const s = statuses();
      const loops = s.map((x) => (x.sample as { loop: LoopSample }).loop);
      const worst = loops.reduce((a, b) => (b.p99Ms > a.p99Ms ? b : a));
      // CPU is the machine's: the job processes' sum (the idle ones and the server use next to none).
      const loop = {
        ...worst,
        cpuCores: loops.reduce((sum, l) => sum + l.cpuCores, 0),
        rssMb: loops.reduce((sum, l) => sum + l.rssMb, 0),
      };
      const v = judge({
        streams: s.map((x) => ({ id: String(x.pid), audioStartTs: x.audioStartTs })),
        speech: s.flatMap((x) => x.speech.map((m) => ({ id: String(x.pid), ...m }))),
        from,
        to,
        loop,
      });
      verdicts.push(v);
      o.log.info(
        {
          side: 'agents-js',
          n,
          loopP99Ms: Math.round(v.loop.p99Ms),
          cpuCores: Number(v.loop.cpuCores.toFixed(2)),
          lateMaxMs: Math.round(v.lateMaxMs),
          silent: v.silent,
          reasons: v.reasons,
        },
        `agents-js, ${n} sessions (a process each): ${v.pass ? 'sustained' : 'not sustained'}`,
      );
      // The search extrapolates from utilization: for processes, the machine's CPU is what fills.
      return { n, pass: v.pass, elu: Math.min(1, loop.cpuCores / o.cores) };
    } catch (err) {
      if (!(err instanceof NotReached)) throw err;
      const none = Number.NaN;
      verdicts.push({
        n,
        pass: false,
        loop: { p50Ms: none, p99Ms: none, maxMs: none, elu: none, cpuCores: none, rssMb: none },
        silent: n,
        boundaries: 0,
        lateP50Ms: none,
        lateMaxMs: none,
        slowWarnings: 0,
        reasons: [err.message],
      });
      o.log.info({ side: 'agents-js', n, reason: err.message }, `agents-js, ${n} sessions: not sustained`);
      return { n, pass: false, elu: 1 };
    } finally {
      await pool.stop();
      await double.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const { limit } = await findLimit(probe, { ...o.search, max: o.max });
  return { limit, probes: verdicts };
}
