/**
 * The demo (README command 1): an embedded nats-server, a supervisor and 2 worker processes,
 * the example agents, and several sessions per agent on bundled real speech audio, shown live.
 * Offline: the agents use agents-js's offline test providers (FakeLLM, FakeSTT); the Silero VAD
 * is real and hears the real audio.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { table } from '../src/cli/status.ts';
import { type MessageOf, subjects } from '../src/protocol/index.ts';
import { PoolClient } from '../src/runtime/client.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { startPool } from '../src/runtime/pool.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PER_AGENT = Number(process.env.DEMO_SESSIONS_PER_AGENT ?? 3);
const out = (line: string) => process.stdout.write(`${line}\n`);

interface Row {
  session: string;
  agent: string;
  worker: string;
  pid: number;
  dispatchedAt: number;
  activeAt?: number;
  final?: string;
  error?: string;
  speech: number;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const ms = () => `+${String(Date.now() - t0).padStart(6)} ms`;
  out('OpenRTC demo: 1 supervisor + 2 worker processes over an embedded nats-server.');
  out(
    'Providers are agents-js offline test providers (voice.testing.FakeLLM, stt.testing.FakeSTT): no API keys, no network.',
  );
  out('The Silero VAD is real: each worker loads it once and shares it across its sessions.\n');

  const log = createLogger({
    level: process.env.OPENRTC_LOG_LEVEL ?? 'warn',
    base: { pool: 'demo', role: 'supervisor' },
  });
  const pool = await startPool({
    agentsDir: `${root}examples/agents`,
    pool: 'demo',
    workers: 2,
    capacity: 10,
    drainTimeoutMs: 10_000,
    heartbeatMs: 500,
    pretty: false,
    log,
    workerEnv: {
      OPENRTC_LOG_LEVEL: process.env.OPENRTC_LOG_LEVEL ?? 'warn',
      OPENRTC_AGENTS_LOG_LEVEL: process.env.OPENRTC_AGENTS_LOG_LEVEL ?? 'error',
    },
  });
  out(`${ms()}  nats-server ${pool.url}; agents: ${pool.registry.map((a) => a.name).join(', ')}`);
  const client = await PoolClient.connect({ url: pool.url, pool: 'demo', log, id: 'demo-client' });
  try {
    const ready = await waitForWorkers(client, 2, 60_000);
    for (const w of ready)
      out(`${ms()}  worker ${w.worker} pid ${w.pid} ready (Silero loaded in ${w.prewarmMs?.toFixed(0)} ms)`);

    const rows = new Map<string, Row>();
    const s = subjects('demo');
    // A session can be well under way before its dispatch reply arrives: hold its early events.
    const early = new Map<string, MessageOf<'inspect'>[]>();
    const onTransition = (m: MessageOf<'inspect'>) => {
      const row = rows.get(m.actor.id);
      if (!row) {
        early.set(m.actor.id, [...(early.get(m.actor.id) ?? []), m]);
        return;
      }
      if (m.toState === 'active') row.activeAt = Date.now();
      if (['closed', 'failed', 'cancelled'].includes(m.toState)) {
        row.final = m.toState;
        if (m.summary.error) row.error = String(m.summary.error);
      }
      const err = m.summary.error ? `  (${m.summary.error})` : '';
      out(
        `${ms()}  ${row.worker}/pid ${m.pid}  ${row.agent.padEnd(10)} ${row.session}  ${m.fromState ?? '·'} → ${m.toState}${err}`,
      );
    };
    client.bus.subscribe(s.inspectAll, (m) => {
      if (m.type === 'inspect' && m.actor.kind === 'session') onTransition(m);
    });
    client.bus.subscribe(s.eventsAll, (m) => {
      if (m.type !== 'session.speech') return;
      const row = rows.get(m.session);
      if (!row) return;
      if (m.kind === 'end') row.speech++;
      out(
        `${ms()}  ${row.worker}/pid ${row.pid}  ${row.agent.padEnd(10)} ${row.session}  VAD: user speech ${m.kind} at ${(m.atMs / 1000).toFixed(2)} s`,
      );
    });
    await client.bus.flush();

    for (let i = 0; i < PER_AGENT; i++) {
      for (const agent of pool.registry) {
        const audio = `${root}assets/audio/${agent.name}.wav`;
        const ok = await client.dispatch({
          agent: agent.name,
          job: { id: randomUUID(), room: `${agent.name}-demo-${i + 1}` },
          audio: { kind: 'wav', path: audio },
        });
        const pid = ready.find((w) => w.worker === ok.worker)?.pid ?? 0;
        rows.set(ok.session, {
          session: ok.session,
          agent: ok.agent,
          worker: ok.worker,
          pid,
          dispatchedAt: Date.now(),
          speech: 0,
        });
        out(`${ms()}  dispatched ${ok.session} (${ok.agent}) → worker ${ok.worker}`);
        for (const m of early.get(ok.session) ?? []) onTransition(m);
        early.delete(ok.session);
      }
    }
    const deadline = Date.now() + 60_000;
    while ([...rows.values()].some((r) => !r.final) && Date.now() < deadline) await sleep(100);

    out('\nSummary');
    out(
      table(
        ['SESSION', 'AGENT', 'WORKER', 'OUTCOME', 'TO ACTIVE MS', 'SPEECH SEGMENTS'],
        [...rows.values()].map((r) => [
          r.session,
          r.agent,
          `${r.worker} (pid ${r.pid})`,
          r.final ?? 'unfinished',
          r.activeAt ? String(r.activeAt - r.dispatchedAt) : '-',
          String(r.speech),
        ]),
      ),
    );
    const perWorker = new Map<string, number>();
    for (const r of rows.values()) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
    out(`\nsessions per worker: ${[...perWorker].map(([w, n]) => `${w}=${n}`).join(', ')}`);
    const failed = [...rows.values()].filter((r) => r.final !== 'closed');
    out(
      failed.length === 0
        ? `all ${rows.size} sessions closed normally`
        : `${failed.length} session(s) did not close normally`,
    );
    return failed.length === 0 ? 0 : 1;
  } finally {
    await client.close();
    await pool.stop();
  }
}

async function waitForWorkers(client: PoolClient, n: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await client.status().catch(() => undefined);
    const ready = status?.workers.filter((w) => w.state === 'ready') ?? [];
    if (ready.length >= n) return ready;
    if (Date.now() > deadline)
      throw new Error(`only ${ready.length} of ${n} workers became ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
