/**
 * failover: 2 workers with live sessions; one is lost. Two kinds of loss, each run on a fresh pool
 * (default restart policy and the DEFAULT 1000 ms heartbeat, so every loss is a first failure):
 *  - kill: SIGKILL a local worker, detected by its exit;
 *  - hung: SIGSTOP a worker, as a remote or hung worker looks: detected by missed heartbeats.
 * Measures, from the loss:
 *  - detect_ms: every lost session reported failed(worker_lost) to a client;
 *  - ready_ms: the replacement worker reports `ready` (the restart, immediate the first time, its boot and Silero prewarm included);
 *  - whether a dispatch placed right after the kill reaches `active` (kill runs).
 * Prints one JSON line; a full run with `--write-docs` writes docs/benchmarks/failover.md.
 *
 *   npm run bench:failover [-- --quick | --smoke]
 */
import { startNatsServer } from '../src/runtime/nats/server.ts';
import { type FailoverRun, failoverDoc } from './lib/failover-doc.ts';
import { hardware } from './lib/hardware.ts';
import { benchMode, byMode } from './lib/mode.ts';
import { InspectWatch, startBenchPool, waitReady } from './lib/pool.ts';
import { isAlive } from './lib/proc.ts';
import { benchLog, emit, memoryLog, runBench, writeDoc } from './lib/report.ts';
import { max, median, round } from './lib/stats.ts';

const mode = benchMode();
const log = benchLog('failover');
const RUNS = byMode(mode, { full: 10, quick: 3, smoke: 1 });
const HUNG_RUNS = byMode(mode, { full: 5, quick: 2, smoke: 1 });
/** Kill runs on a pool with one hot spare. */
const SPARE_RUNS = byMode(mode, { full: 5, quick: 2, smoke: 1 });
const SESSIONS = 4;
const LONG = { kind: 'silence' as const, durationMs: 120_000 };

/** Date.now() of the first supervisor log line with this message after `since`. */
function logged(lines: Record<string, unknown>[], msg: string, since: number): number {
  const line = lines.find((l) => l.msg === msg && (l.time as number) >= since);
  return line ? (line.time as number) : Number.NaN;
}

async function once(nats: string, i: number, how: FailoverRun['how']): Promise<FailoverRun> {
  const { log: supLog, lines } = memoryLog({ pool: `failover${i}`, role: 'supervisor' });
  const spares = how === 'spare' ? 1 : 0;
  const bench = await startBenchPool({
    nats,
    name: `failover${i}`,
    workers: 2,
    spares,
    capacity: 10,
    log: supLog,
  });
  const watch = new InspectWatch(bench.client);
  let victimPid: number | undefined;
  try {
    await waitReady(bench.client, 2 + spares);
    const placed: { session: string; worker: string }[] = [];
    for (let k = 0; k < SESSIONS; k++)
      placed.push(await bench.client.dispatch({ agent: 'restaurant', audio: LONG }));
    await watch.until('live sessions', () => placed.every((p) => watch.state(p.session, 'active')), 30_000);
    const status = await bench.client.status();
    // Alternate the victim: placement breaks ties the same way every run, so always killing the
    // same worker would always (or never) put the next dispatch on the dead one.
    const victimId = placed[(i - 1) % 2]?.worker;
    const victim = status.workers.find((w) => w.worker === victimId);
    if (!victim?.pid) throw new Error('no victim pid');
    const lost = placed.filter((p) => p.worker === victim.worker).map((p) => p.session);
    const survivors = placed.filter((p) => p.worker !== victim.worker).map((p) => p.session);

    const killedTs = Date.now();
    const killedAt = performance.now();
    process.kill(victim.pid, how === 'hung' ? 'SIGSTOP' : 'SIGKILL');
    victimPid = victim.pid;
    const after =
      how !== 'hung'
        ? await bench.client.dispatch({ agent: 'dental', audio: LONG }).then(
            (p) => ({ ok: true as const, session: p.session, worker: p.worker }),
            (err: Error) => ({ ok: false as const, error: err.message }),
          )
        : ({ ok: false as const, error: 'not tried (hung run)' } as const);

    const detectedAt = await watch.until(
      'every lost session failed(worker_lost)',
      () => {
        const seen = lost.map((s) => watch.state(s, 'failed'));
        return seen.every((x) => x?.error?.startsWith('worker_lost'))
          ? Math.max(...seen.map((x) => x?.at ?? 0))
          : 0;
      },
      30_000,
    );
    const ready = await watch.until(
      'the replacement worker ready',
      () => watch.workers.find((w) => w.worker === victim.worker && w.to === 'ready' && w.pid !== victim.pid),
      60_000,
    );
    const afterActive = after.ok
      ? await watch
          .until(
            'the dispatch after the kill active',
            () => watch.state(after.session, 'active') ?? watch.state(after.session, 'failed'),
            15_000,
          )
          .then(() => Boolean(watch.state(after.session, 'active')))
          .catch(() => false)
      : false;
    const survivorsAlive = survivors.every((s) => watch.state(s, 'active') && !watch.state(s, 'failed'));
    const phase = (to: string) =>
      watch.workers.find((w) => w.worker === victim.worker && w.to === to && w.pid !== victim.pid)?.ts ??
      Number.NaN;
    const run: FailoverRun = {
      how,
      detectMs: detectedAt - killedAt,
      readyMs: ready.at - killedAt,
      lost: lost.length,
      survivorsAlive,
      afterKill: {
        placedOn: after.ok ? (after.worker === victim.worker ? 'killed worker' : 'survivor') : 'refused',
        active: afterActive,
        ...(after.ok
          ? afterActive
            ? {}
            : { error: watch.state(after.session, 'failed')?.error ?? 'not active in 15 s' }
          : { error: after.error }),
      },
      ...(how === 'spare' ? { spareMs: logged(lines, 'spare worker promoted', killedTs) - killedTs } : {}),
      hops: {
        exitSeen: logged(lines, 'worker process exited', killedTs) - killedTs,
        respawned: logged(lines, 'worker restarted', killedTs) - killedTs,
        registering: phase('registering') - killedTs,
        prewarming: phase('prewarming') - killedTs,
        ready: ready.ts - killedTs,
      },
    };
    log.info({ run: i, ...run }, 'failover run');
    return run;
  } finally {
    if (victimPid !== undefined && isAlive(victimPid)) {
      try {
        process.kill(victimPid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    watch.stop();
    await bench.stop();
  }
}

const hopsMedian = (of: FailoverRun[]) =>
  Object.fromEntries(
    (Object.keys(of[0]?.hops ?? {}) as (keyof FailoverRun['hops'])[]).map((k) => [
      k,
      round(median(of.map((r) => r.hops[k]))),
    ]),
  );

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const runs: FailoverRun[] = [];
  try {
    for (let i = 1; i <= RUNS; i++) runs.push(await once(nats.url, i, 'kill'));
    for (let i = 1; i <= HUNG_RUNS; i++) runs.push(await once(nats.url, RUNS + i, 'hung'));
    for (let i = 1; i <= SPARE_RUNS; i++) runs.push(await once(nats.url, RUNS + HUNG_RUNS + i, 'spare'));
  } finally {
    await nats.stop();
  }
  const kills = runs.filter((r) => r.how === 'kill');
  const hung = runs.filter((r) => r.how === 'hung');
  const spare = runs.filter((r) => r.how === 'spare');
  const detect = kills.map((r) => r.detectMs);
  const ready = kills.map((r) => r.readyMs);
  const result = {
    bench: 'failover',
    mode,
    runs: kills.length,
    hung_runs: hung.length,
    heartbeat_ms: 1000,
    detect_ms_median: round(median(detect)),
    detect_ms_max: round(max(detect)),
    ready_ms_median: round(median(ready)),
    ready_ms_max: round(max(ready)),
    remote_detect_ms_median: round(median(hung.map((r) => r.detectMs))),
    remote_detect_ms_max: round(max(hung.map((r) => r.detectMs))),
    remote_ready_ms_median: round(median(hung.map((r) => r.readyMs))),
    spare_runs: spare.length,
    spare_ready_ms_median: round(median(spare.map((r) => r.spareMs ?? Number.NaN))),
    spare_ready_ms_max: round(max(spare.map((r) => r.spareMs ?? Number.NaN))),
    spare_replenished_ms_median: round(median(spare.map((r) => r.readyMs))),
    spare_dispatch_after_kill_active: spare.filter((r) => r.afterKill.active).length,
    dispatch_after_kill_ok: kills.every((r) => r.afterKill.active),
    dispatch_after_kill_active: kills.filter((r) => r.afterKill.active).length,
    survivors_untouched: runs.every((r) => r.survivorsAlive),
    target_detect_ms: 100,
    target_remote_detect_ms: 3500,
    target_ready_ms: 2000,
    target_spare_ready_ms: 250,
    hops_median_ms: hopsMedian(kills),
    remote_hops_median_ms: hopsMedian(hung),
    hardware: hardware(),
  };
  emit(result);
  const path = writeDoc(mode, 'failover', failoverDoc(result, runs));
  if (path) log.info({ path }, 'table written');
}

runBench(main);
