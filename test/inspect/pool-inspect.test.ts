import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolClient } from '../../src/runtime/client.ts';
import type { InspectEvent } from '../../src/runtime/inspect/events.ts';
import { NatsInspectSource } from '../../src/runtime/inspect/source.ts';
import { OPENRTC_BIN } from '../../src/runtime/spawner.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { EXAMPLE_AGENTS, readyWorkers } from '../support/pool.ts';
import { exited, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const nats = useNatsServer();
const openrtc = useOpenrtc();
/** JWT-shaped, like a LiveKit access token; unique so a match can only come from this test. */
const FAKE_TOKEN = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJpbnNwZWN0LXRlc3QifQ.c2VjcmV0LSR7${Date.now().toString(36)}LXNpZw`;
const SIGNATURE = FAKE_TOKEN.split('.')[2] as string;

describe('inspecting a pool run by `openrtc start` (real supervisor, 2 worker processes, real nats-server)', () => {
  const pool = `insp${Date.now() % 100000}`;
  const dir = mkdtempSync(join(tmpdir(), 'openrtc-inspect-'));
  const jsonl = join(dir, 'metrics.jsonl');
  let proc: ChildProcess;
  let output = '';
  let client: PoolClient;
  let source: NatsInspectSource;
  let tap: NatsConnection;
  const events: InspectEvent[] = [];
  /** Every message on the pool's subjects except dispatch requests and worker commands, which carry the token by design. */
  const wire: string[] = [];
  const commands: string[] = [];
  let metricsUrl = '';

  beforeAll(async () => {
    proc = spawn(
      process.execPath,
      [
        OPENRTC_BIN,
        'start',
        EXAMPLE_AGENTS,
        ...['--nats', nats.url, '--pool', pool, '--workers', '2'],
        ...['--drain-timeout', '3000', '--metrics-jsonl', jsonl, '--metrics-port', '0'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPENRTC_LOG_LEVEL: 'debug' } },
    );
    proc.stdout?.on('data', (d) => {
      output += d;
    });
    proc.stderr?.on('data', (d) => {
      output += d;
    });
    tap = await connect({ servers: nats.url });
    tap.subscribe(`openrtc.${pool}.>`, {
      callback: (_, m) => {
        if (!m.subject.endsWith('.cmd') && !m.subject.endsWith('.dispatch')) wire.push(m.string());
        else commands.push(m.string());
      },
    });
    source = await NatsInspectSource.connect({ url: nats.url, pool, log: captureLog().log });
    source.subscribe((e) => events.push(e));
    await source.flush();
    client = await PoolClient.connect({ url: nats.url, pool, log: captureLog().log });
    await readyWorkers(client, 2, 60_000);
    metricsUrl = await waitFor(
      'the metrics URL in the log',
      () => /"url":"(http:[^"]+\/metrics)"/.exec(output)?.[1],
    );
  }, 90_000);

  afterAll(async () => {
    await source?.close();
    await client?.close();
    await tap?.close();
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await exited(proc);
    }
  });

  async function runSession(body: Parameters<PoolClient['dispatch']>[0]) {
    const ok = await client.dispatch(body);
    const final = await waitFor(`session ${ok.session} ends`, () =>
      events.find((e) => e.actor.id === ok.session && ['closed', 'failed', 'cancelled'].includes(e.to)),
    );
    return { ok, final, mine: () => events.filter((e) => e.actor.id === ok.session) };
  }

  let closedSession = '';

  it('a session’s inspection events carry actor, parent, pool, host/pid, from/to, event, ts, per-actor seq and a small summary', async () => {
    const { ok, final, mine } = await runSession({
      agent: 'restaurant',
      job: { room: 'restaurant-inspect' },
      audio: { kind: 'silence', durationMs: 300 },
    });
    closedSession = ok.session;
    expect(final.to).toBe('closed');
    const seen = mine();
    const status = await client.status();
    const workerPid = status.workers.find((w) => w.worker === ok.worker)?.pid;
    expect(seen.map((e) => e.to)).toEqual([
      'prewarming',
      'connecting',
      'greeting',
      'active',
      'closing',
      'closed',
    ]);
    seen.forEach((e, i) => {
      expect(e.seq).toBe(i + 1);
      expect(e.from).toBe(i === 0 ? null : seen[i - 1]?.to);
      expect(e.actor).toEqual({ id: ok.session, kind: 'session', parent: ok.worker });
      expect(e).toMatchObject({ pool, host: hostname(), pid: workerPid });
      expect(e.event.length).toBeGreaterThan(0);
      expect(e.ts).toBeGreaterThanOrEqual(seen[i - 1]?.ts ?? 0);
      expect(e.summary).toEqual({ agent: 'restaurant', room: 'restaurant-inspect', worker: ok.worker });
    });
    // Workers report their own machine the same way, with their own seq.
    // Every worker, the hot spare too (it may still be prewarming on a busy machine), reaches ready.
    const workerEvents = (id: string) => events.filter((e) => e.actor.kind === 'worker' && e.actor.id === id);
    // A fresh status each time: the spare's pid is known only once its process has said hello.
    const settled = await waitFor(
      'every worker ready in the inspection stream',
      async (note) => {
        const now = await client.status();
        note(
          now.workers.map(
            (w) =>
              `${w.worker}(pid ${w.pid}):${workerEvents(w.worker)
                .map((e) => e.to)
                .join('>')}`,
          ),
        );
        const ready = now.workers.every(
          (w) => w.pid != null && workerEvents(w.worker).some((e) => e.to === 'ready'),
        );
        return ready ? now : undefined;
      },
      30_000,
      200,
    );
    for (const w of settled.workers) {
      const mineW = workerEvents(w.worker);
      expect(mineW.map((e) => e.to)).toContain('ready');
      expect(mineW.every((e, i) => i === 0 || e.seq > (mineW[i - 1]?.seq ?? 0))).toBe(true);
      expect(mineW[0]?.pid).toBe(w.pid);
      // From the welcome on, a worker names its parent in the actor tree: the supervisor.
      expect(mineW.find((e) => e.to === 'ready')?.actor.parent).toBe('supervisor');
    }
  });

  it('a token-carrying LiveKit session leaks its token nowhere: not in inspection events, status, history, logs or metrics', async () => {
    const { ok, final, mine } = await runSession({
      agent: 'restaurant',
      job: { room: 'restaurant-secret' },
      transport: {
        kind: 'livekit',
        url: 'ws://127.0.0.1:9',
        token: FAKE_TOKEN,
        job: { id: 'AJ_inspect', room: { name: 'restaurant-secret' } },
      },
    });
    // The token went all the way to the worker, which tried to connect with it and failed.
    expect(commands.some((c) => c.includes('"type":"session.start"') && c.includes(FAKE_TOKEN))).toBe(true);
    expect(final.to).toBe('failed');
    expect(String(final.summary.error)).toMatch(/^connect_failed: /);
    expect(mine().map((e) => e.to)).toContain('connecting');
    const status = JSON.stringify(await client.status());
    expect(status).toContain(ok.session);
    const history = JSON.stringify(await source.history(ok.session));
    expect(history).toContain('connecting');
    await waitFor('session_failed in the metrics stream', () =>
      readFileSync(jsonl, 'utf8').includes(ok.session),
    );
    const metrics = await (await fetch(metricsUrl)).text();
    const places = {
      'inspection events': JSON.stringify(events),
      'NATS traffic (events, inspect, broadcast)': wire.join('\n'),
      status,
      history,
      'supervisor and worker logs (debug)': output,
      'metrics JSONL': readFileSync(jsonl, 'utf8'),
      '/metrics': metrics,
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, where).toBeGreaterThan(0);
      expect(text.includes(FAKE_TOKEN), `the token appears in ${where}`).toBe(false);
      expect(text.includes(SIGNATURE), `the token's signature appears in ${where}`).toBe(false);
    }
  });

  it('the supervisor keeps the history of an ended session; `openrtc inspect --session` prints it with timings', async () => {
    const h = await source.history(closedSession);
    expect(h.ended).toBe(true);
    expect(h.transitions.map((t) => t.to)).toEqual([
      'prewarming',
      'connecting',
      'greeting',
      'active',
      'closing',
      'closed',
    ]);
    const text = openrtc(['inspect', '--nats', nats.url, '--pool', pool, '--session', closedSession]);
    expect(await exited(text)).toBe(0);
    const out = text.output();
    expect(out).toContain(`session ${closedSession}  agent restaurant`);
    expect(out).toMatch(/ended closed {2}total \d+ ms/);
    for (const [from, to] of [
      ['·', 'prewarming'],
      ['greeting', 'active'],
      ['closing', 'closed'],
    ])
      expect(out).toContain(`${from} → ${to}`);
    expect(out).toMatch(/IN STATE MS/);
    const json = openrtc([
      'inspect',
      '--nats',
      nats.url,
      '--pool',
      pool,
      '--session',
      closedSession,
      '--json',
    ]);
    expect(await exited(json)).toBe(0);
    expect(JSON.parse(json.output()).transitions).toHaveLength(6);
    const unknown = openrtc(['inspect', '--nats', nats.url, '--pool', pool, '--session', 'snope']);
    expect(await exited(unknown)).toBe(1);
    expect(unknown.output()).toContain("no history of session 'snope'");
  });

  it('`openrtc inspect --once` prints the workers and sessions and exits', async () => {
    const status = await client.status();
    const once = openrtc(['inspect', '--nats', nats.url, '--pool', pool, '--once']);
    expect(await exited(once)).toBe(0);
    const out = once.output();
    expect(out).toMatch(new RegExp(`^pool ${pool}  health ok`));
    expect(out).toMatch(/WORKER +STATE +SUPERVISION +SESSIONS/);
    // A spare (the pool keeps one by default) is shown as such.
    const shown = (w: (typeof status.workers)[number]) => (w.spare ? 'ready \\(spare\\)' : 'ready');
    for (const w of status.workers)
      expect(out).toMatch(new RegExp(`${w.worker} +${shown(w)} +up +\\d+/\\d+`));
    // The actor tree: the supervisor, then each worker under it.
    const tree = out.split('\n').slice(out.split('\n').indexOf('ACTOR TREE') + 1);
    expect(tree[0]).toBe('supervisor  health ok');
    for (const w of status.workers)
      expect(tree).toContainEqual(
        expect.stringMatching(new RegExp(`^[├└]─ ${w.worker}  ${shown(w)}  \\d+/\\d+$`)),
      );
    expect(out).toMatch(new RegExp(`${closedSession} +restaurant +\\S+ +closed`));
  });

  it('`openrtc inspect --json --agent dental` streams NDJSON inspection events of dental sessions only', async () => {
    const stream = openrtc(['inspect', '--nats', nats.url, '--pool', pool, '--json', '--agent', 'dental']);
    await waitFor('the stream is live', () => stream.output().includes('streaming inspection events'));
    const [dental] = await Promise.all([
      runSession({ agent: 'dental', audio: { kind: 'silence', durationMs: 100 } }),
      runSession({ agent: 'restaurant', audio: { kind: 'silence', durationMs: 100 } }),
    ]);
    await waitFor('the dental session ends in the NDJSON stream', () =>
      stream
        .output()
        .split('\n')
        .some((l) => l.includes(`"id":"${dental.ok.session}"`) && l.includes('"to":"closed"')),
    );
    stream.kill('SIGTERM');
    expect(await exited(stream)).toBe(0);
    const lines = stream
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as InspectEvent);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const e of lines) {
      expect(e.pool).toBe(pool);
      expect(e.actor.kind).toBe('session');
      expect(e.summary.agent).toBe('dental');
    }
    expect(lines.filter((e) => e.actor.id === dental.ok.session).map((e) => e.to)).toEqual(
      dental.mine().map((e) => e.to),
    );
  });

  it('metrics: the JSONL stream interleaves snapshots and session events in OpenRTC’s envelope; /metrics has the pool’s series', async () => {
    // A rejected message, so the counter by reason has something to count.
    tap.publish(`openrtc.${pool}.dispatch`, '{not json');
    // Still running when /metrics is read, after up to a snapshot interval's wait below (the
    // drain at afterAll cuts it short).
    const running = await client.dispatch({
      agent: 'dental',
      audio: { kind: 'silence', durationMs: 60_000 },
    });
    await waitFor('a running session', () =>
      events.find((e) => e.actor.id === running.session && e.to === 'active'),
    );
    const status = await client.status();
    // Snapshots come every 5 s: the last one must postdate the failed session's event for its
    // counters to include it (the failure may have happened within the last interval).
    const records = await waitFor('a snapshot after the failed session', (note) => {
      const rs = readFileSync(jsonl, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const ks = rs.map((r) => (r.kind === 'event' ? r.payload.event : 'snapshot'));
      note(ks);
      const failedAt = ks.indexOf('session_failed');
      return failedAt >= 0 && ks.lastIndexOf('snapshot') > failedAt ? rs : undefined;
    });
    records.forEach((r, i) => {
      expect(Object.keys(r).sort()).toEqual(['kind', 'payload', 'schema_version', 'seq', 'wall_time_unix']);
      expect(r.schema_version).toBe(1);
      expect(r.seq).toBe(i + 1);
      expect(['snapshot', 'event']).toContain(r.kind);
      expect(Math.abs(r.wall_time_unix - Date.now() / 1000)).toBeLessThan(120);
    });
    const kinds = records.map((r) => (r.kind === 'event' ? r.payload.event : 'snapshot'));
    expect(kinds[0]).toBe('snapshot');
    for (const k of ['session_started', 'session_finished', 'session_failed']) expect(kinds).toContain(k);
    expect(kinds.lastIndexOf('snapshot')).toBeGreaterThan(kinds.indexOf('session_started'));
    const finished = records.find(
      (r) => r.payload.event === 'session_finished' && r.payload.session === closedSession,
    );
    expect(finished?.payload).toMatchObject({ agent: 'restaurant', outcome: 'success', state: 'closed' });
    const failed = records.find((r) => r.payload.event === 'session_failed');
    expect(failed?.payload).toMatchObject({
      agent: 'restaurant',
      outcome: 'failed',
      error: { code: 'connect_failed' },
    });
    const snap = records.filter((r) => r.kind === 'snapshot').at(-1)?.payload;
    expect(snap).toMatchObject({ registered_agents: 2, pool, health: 'ok' });
    expect(snap.total_sessions_started).toBeGreaterThanOrEqual(2);
    expect(snap.total_session_failures).toBeGreaterThanOrEqual(1);

    const text = await (await fetch(metricsUrl)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(value(`openrtc_sessions_active{agent="dental",worker="${running.worker}"}`)).toBe(1);
    expect(value('openrtc_sessions_total{agent="restaurant",outcome="success"}')).toBeGreaterThanOrEqual(1);
    expect(value('openrtc_sessions_total{agent="restaurant",outcome="failed"}')).toBeGreaterThanOrEqual(1);
    expect(
      value('openrtc_session_dispatch_to_active_seconds_count{agent="restaurant"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(value('openrtc_protocol_rejected_total{reason="invalid_json"}')).toBeGreaterThanOrEqual(1);
    for (const w of status.workers) {
      expect(value(`openrtc_worker_rss_bytes{worker="${w.worker}"}`)).toBeGreaterThan(50 * 1024 * 1024);
      expect(value(`openrtc_worker_restarts_total{worker="${w.worker}"}`)).toBe(0);
    }
  });
});
