/**
 * What one inspection event costs (docs/inspect.md): building and publishing it on a real
 * nats-server (zod check + JSON + NATS write), what XState's own `inspect` option would add to a
 * session's life, and the latency from publish to a headless Chromium page over the inspector's
 * SSE feed; and one session transition as a worker publishes it and the supervisor decodes it,
 * once (an `inspect` carrying the epoch) against twice (`session.state` and `inspect`, as before
 * `transitionsOnInspect`). Run: `npx tsx test/inspect/cost.bench.ts` (prints one JSON line).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { chromium } from 'playwright-core';
import { createActor, fromPromise, type InspectionEvent } from 'xstate';
import { resolveLimits, sessionMachine } from '../../src/actors/session.machine.ts';
import { decode, encode, subjects } from '../../src/protocol/index.ts';
import { NatsInspectSource } from '../../src/runtime/inspect/source.ts';
import { startInspectorServer } from '../../src/runtime/inspect/web/server.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Bus } from '../../src/runtime/nats/bus.ts';
import { startNatsServer } from '../../src/runtime/nats/server.ts';

const log = createLogger({ level: 'error' });
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0).toFixed(3));
};

const nats = await startNatsServer();
const bus = await Bus.connect({ url: nats.url, name: 'bench', self: 'w1', log });
const s = subjects('bench');
const body = (seq: number, sentAt = 0) => ({
  actor: { id: 'sbench0000001', kind: 'session' as const, parent: 'w1' },
  pool: 'bench',
  host: hostname(),
  pid: process.pid,
  fromState: 'greeting',
  toState: 'active',
  event: 'xstate.done.actor.greet',
  seq,
  summary: { agent: 'restaurant', room: 'restaurant-1234', worker: 'w1', sentAt },
});

// 1. Build + validate + encode + publish, as the worker does on every transition; and encode alone.
// Median of interleaved batches: single runs on a shared 2-core machine are noisy.
const N = 20_000;
const sample = bus.make('inspect', body(1));
const bytes = encode(sample).byteLength;
const publishRuns: number[] = [];
const encodeRuns: number[] = [];
for (let round = 0; round < 9; round++) {
  let t = performance.now();
  for (let i = 1; i <= N; i++) bus.publish(s.inspect('w1'), bus.make('inspect', body(i)));
  await bus.flush();
  publishRuns.push(((performance.now() - t) * 1000) / N);
  t = performance.now();
  for (let i = 0; i < N; i++) encode(sample);
  encodeRuns.push(((performance.now() - t) * 1000) / N);
}
const publishUs = pct(publishRuns.slice(2), 50);
const encodeUs = pct(encodeRuns.slice(2), 50);

// 1b. One transition, worker side (make + encode + publish) and supervisor side (decode), in the
// same interleaved rounds: twice as before (session.state on the events subject, inspect on the
// inspect subject) against once (the inspect carrying the epoch).
const report = { session: 'sbench0000001', worker: 'w1', epoch: 'e0c1d2e3', state: 'active' as const };
const twiceRuns: number[] = [];
const onceRuns: number[] = [];
const M = 10_000;
for (let round = 0; round < 9; round++) {
  let t = performance.now();
  for (let i = 1; i <= M; i++) {
    const a = bus.make('session.state', { ...report, seq: i });
    bus.publish(s.events('w1'), a);
    const b = bus.make('inspect', body(i));
    bus.publish(s.inspect('w1'), b);
    decode(encode(a), s.events('w1'));
    decode(encode(b), s.inspect('w1'));
  }
  await bus.flush();
  twiceRuns.push(((performance.now() - t) * 1000) / M);
  t = performance.now();
  for (let i = 1; i <= M; i++) {
    const b = bus.make('inspect', { ...body(i), epoch: report.epoch });
    bus.publish(s.inspect('w1'), b);
    decode(encode(b), s.inspect('w1'));
  }
  await bus.flush();
  onceRuns.push(((performance.now() - t) * 1000) / M);
}
const twiceUs = pct(twiceRuns.slice(2), 50);
const onceUs = pct(onceRuns.slice(2), 50);

// 2. A session's whole life with and without an XState `inspect` observer mapping to plain data.
const machine = sessionMachine.provide({
  actors: {
    prewarm: fromPromise(async () => {}),
    connect: fromPromise(async () => {}),
    greet: fromPromise(async () => {}),
    close: fromPromise(async () => {}),
  },
});
async function lives(n: number, observe: boolean): Promise<{ ms: number; callbacks: number }> {
  let callbacks = 0;
  const sink: unknown[] = [];
  const inspect = (e: InspectionEvent) => {
    callbacks++;
    if (e.type !== '@xstate.snapshot') return;
    const ref = e.actorRef as unknown as { id: string; sessionId: string };
    // Only the session itself: its promise actors (prewarm, connect...) report snapshots too.
    if (ref.sessionId === e.rootId)
      sink.push({ id: ref.id, value: JSON.stringify((e.snapshot as unknown as { value: unknown }).value) });
  };
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const actor = createActor(machine, {
      input: { sessionId: `s${i}`, agent: 'a', worker: 'w1', limits: resolveLimits(), hasGreeting: true },
      ...(observe ? { inspect } : {}),
    });
    const done = new Promise<void>((r) => actor.subscribe({ complete: () => r() }));
    actor.start();
    await new Promise((r) => setImmediate(r));
    actor.send({ type: 'TRANSPORT_ENDED' });
    await done;
  }
  return { ms: performance.now() - start, callbacks };
}
const plainRuns: number[] = [];
const observedRuns: number[] = [];
let callbacks = 0;
for (let round = 0; round < 7; round++) {
  plainRuns.push((await lives(500, false)).ms / 500);
  const o = await lives(500, true);
  observedRuns.push(o.ms / 500);
  callbacks = o.callbacks / 500;
}

// 3. Publish → NATS → inspector (SSE) → Chromium page, one event every 10 ms.
let browserMs: { p50: number; p95: number; p99: number; n: number } | null = null;
if (existsSync('/usr/bin/chromium')) {
  const source = await NatsInspectSource.connect({ url: nats.url, pool: 'bench', log });
  const server = await startInspectorServer({ source, port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const page = await browser.newPage();
  await page.goto(`${server.url}api/machines`);
  await page.evaluate(() => {
    const g = globalThis as unknown as {
      lat: number[];
      EventSource: new (u: string) => { addEventListener(t: string, f: (m: { data: string }) => void): void };
      performance: { timeOrigin: number; now(): number };
    };
    g.lat = [];
    new g.EventSource('/events').addEventListener('inspect', (m) => {
      const sentAt = JSON.parse(m.data).summary.sentAt;
      if (sentAt) g.lat.push(g.performance.timeOrigin + g.performance.now() - sentAt);
    });
  });
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 1; i <= 500; i++) {
    bus.publish(s.inspect('w1'), bus.make('inspect', body(i, performance.timeOrigin + performance.now())));
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500));
  const lat = (await page.evaluate(() => (globalThis as unknown as { lat: number[] }).lat)) as number[];
  browserMs = { p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), n: lat.length };
  await browser.close();
  await server.close();
  await source.close();
}

await bus.close();
await nats.stop();
process.stdout.write(
  `${JSON.stringify({
    bench: 'inspect',
    event_bytes: bytes,
    encode_us: encodeUs,
    make_encode_publish_us: publishUs,
    // Worker publish + supervisor decode of one session transition (the decode side re-encodes
    // to get the bytes, so both sides count the encode once more; the ratio is what matters).
    transition_twice_us: twiceUs,
    transition_once_us: onceUs,
    transition_ratio_once_to_twice: Number((onceUs / twiceUs).toFixed(2)),
    session_life_ms: pct(plainRuns.slice(2), 50),
    session_life_with_xstate_inspect_ms: pct(observedRuns.slice(2), 50),
    xstate_inspect_callbacks_per_session: callbacks,
    publish_to_browser_ms: browserMs,
  })}\n`,
);
process.exit(0);
