/**
 * Captures one real message of each hot type from a live pool (1 worker, 4 sessions on the bundled
 * speech, then cancelled), by tapping every subject of its nats-server, and writes them to
 * bench/protocol/messages.json for bench/protocol.bench.ts. The heartbeat kept is the one carrying
 * the most sessions; the inspect and session.state kept are of a session entering `active`.
 *
 *   npx tsx bench/protocol/capture.ts
 */
import { writeFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../../src/runtime/nats/server.ts';
import { AUDIO, InspectWatch, startBenchPool, waitReady } from '../lib/pool.ts';
import { ROOT, runBench } from '../lib/report.ts';

export interface Captured {
  type: string;
  subject: string;
  text: string;
}

export const CAPTURED = `${ROOT}bench/protocol/messages.json`;
const HOT = ['session.state', 'heartbeat', 'inspect', 'session.speech', 'ack', 'dispatch'] as const;

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const tap = await connect({ servers: nats.url });
  const seen: Captured[] = [];
  tap.subscribe('>', {
    callback: (_err, m) => {
      const text = m.string();
      try {
        const type = (JSON.parse(text) as { type?: string }).type;
        if (type && (HOT as readonly string[]).includes(type)) seen.push({ type, subject: m.subject, text });
      } catch {
        // not ours
      }
    },
  });
  const bench = await startBenchPool({ nats: nats.url, name: 'capture', workers: 1, capacity: 10 });
  const watch = new InspectWatch(bench.client, { speech: true });
  try {
    await waitReady(bench.client, 1);
    const placed = [];
    for (let i = 0; i < 4; i++)
      placed.push(
        await bench.client.dispatch({
          agent: i % 2 ? 'dental' : 'restaurant',
          audio: { kind: 'wav', path: i % 2 ? AUDIO.dental : AUDIO.restaurant, realtime: true },
        }),
      );
    await watch.until('speech', () => watch.speech.length > 0, 30_000);
    // Two heartbeats while all four live.
    await new Promise((r) => setTimeout(r, 2500));
    for (const p of placed)
      await bench.client.bus.request(
        bench.client.subjects.workerCmd(p.worker),
        bench.client.bus.make('session.cancel', { session: p.session, reason: 'captured' }),
        5000,
      );
    await tap.flush();
  } finally {
    watch.stop();
    await bench.stop();
    await tap.close();
    await nats.stop();
  }
  const pick = (type: string, score: (c: Captured) => number = () => 0) =>
    seen.filter((c) => c.type === type).sort((a, b) => score(b) - score(a))[0];
  const json = (c: Captured) => JSON.parse(c.text) as Record<string, unknown>;
  const activeInspect = (c: Captured) => {
    const m = json(c) as { actor: { kind: string }; toState: string };
    return m.actor.kind === 'session' && m.toState === 'active' ? 1 : 0;
  };
  const out = [
    pick('session.state', (c) => (json(c).state === 'active' ? 1 : 0)) ??
      asSessionState(pick('inspect', activeInspect)),
    pick('heartbeat', (c) => (json(c).sessions as unknown[]).length),
    pick('inspect', activeInspect),
    pick('session.speech'),
    pick('ack'),
    pick('dispatch'),
  ];
  const missing = HOT.filter((t, i) => !out[i] || out[i]?.type !== t);
  if (missing.length) throw new Error(`not captured: ${missing.join(', ')}`);
  writeFileSync(CAPTURED, `${JSON.stringify(out, null, 2)}\n`);
  process.stderr.write(`wrote ${CAPTURED}\n`);
}

/**
 * A pool's workers send a supervisor that reads transitions from inspect events
 * (`transitionsOnInspect`) no `session.state`: the one an older supervisor would get for the same
 * transition is made from the worker's inspect (same envelope, same report fields).
 */
function asSessionState(c: Captured | undefined): Captured | undefined {
  if (!c) return undefined;
  const m = JSON.parse(c.text) as {
    v: number;
    id: string;
    ts: number;
    from: string;
    actor: { id: string; parent: string };
    epoch: string;
    toState: string;
    seq: number;
  };
  const state = {
    v: m.v,
    id: m.id,
    ts: m.ts,
    from: m.from,
    type: 'session.state',
    session: m.actor.id,
    worker: m.actor.parent,
    epoch: m.epoch,
    state: m.toState,
    seq: m.seq,
  };
  return {
    type: 'session.state',
    subject: c.subject.replace('.inspect.', '.sup.events.'),
    text: JSON.stringify(state),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) runBench(main);
