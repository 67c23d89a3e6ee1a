import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { FINAL_SESSION_STATES } from '../../../protocol/index.ts';
import type { PoolMetrics } from './pool-metrics.ts';

/**
 * Counters whose source is an absolute count (from status) advance by the difference; a count
 * that went down (a restarted worker's own counters) is a reset and counts from zero.
 */
class Deltas {
  private readonly last = new Map<string, number>();
  step(key: string, value: number): number {
    const prev = this.last.get(key) ?? 0;
    this.last.set(key, value);
    return value >= prev ? value - prev : value;
  }
}

/** The pool's Prometheus metrics, read from the supervisor at scrape time and from session events. */
export function poolRegistry(metrics: PoolMetrics): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const finals = FINAL_SESSION_STATES as readonly string[];
  const restarts = new Deltas();
  const rejections = new Deltas();
  // One status read per scrape, shared by every collector of that scrape.
  let cached: { at: number; status: ReturnType<PoolMetrics['status']> } | undefined;
  const status = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 100) cached = { at: now, status: metrics.status() };
    return cached.status;
  };

  new Gauge({
    name: 'openrtc_sessions_active',
    help: 'Sessions placed and not ended, by agent and worker',
    labelNames: ['agent', 'worker'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const s of status().sessions)
        if (!finals.includes(s.state)) this.inc({ agent: s.agent, worker: s.worker });
    },
  });
  const outcomes = new Counter({
    name: 'openrtc_sessions_total',
    help: 'Sessions ended, by agent and outcome (success, failed, cancelled)',
    labelNames: ['agent', 'outcome'] as const,
    registers: [register],
  });
  const started = new Counter({
    name: 'openrtc_sessions_started_total',
    help: 'Sessions started, by agent',
    labelNames: ['agent'] as const,
    registers: [register],
  });
  const toActive = new Histogram({
    name: 'openrtc_session_dispatch_to_active_seconds',
    help: 'Time from dispatch to the session becoming active, by agent',
    labelNames: ['agent'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [register],
  });
  new Counter({
    name: 'openrtc_worker_restarts_total',
    help: 'Restarts of each worker slot by the supervisor',
    labelNames: ['worker'] as const,
    registers: [register],
    collect() {
      for (const w of status().workers) this.inc({ worker: w.worker }, restarts.step(w.worker, w.restarts));
    },
  });
  new Gauge({
    name: 'openrtc_worker_rss_bytes',
    help: 'Resident set size of each worker process, from its latest heartbeat',
    labelNames: ['worker'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const w of status().workers) this.set({ worker: w.worker }, w.rssBytes);
    },
  });
  new Gauge({
    name: 'openrtc_worker_capacity',
    help: 'Sessions each worker may host',
    labelNames: ['worker'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const w of status().workers) this.set({ worker: w.worker }, w.capacity);
    },
  });
  new Gauge({
    name: 'openrtc_workers',
    help: 'Workers by state',
    labelNames: ['state'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const w of status().workers) this.inc({ state: w.state });
    },
  });
  new Counter({
    name: 'openrtc_protocol_rejected_total',
    help: 'Protocol messages rejected by the supervisor and the workers, by reason',
    labelNames: ['reason'] as const,
    registers: [register],
    collect() {
      for (const [reason, n] of Object.entries(status().rejected))
        this.inc({ reason }, rejections.step(reason, n));
    },
  });
  new Gauge({
    name: 'openrtc_pool_health',
    help: '1 for the pool health now (ok, degraded, draining)',
    labelNames: ['health'] as const,
    registers: [register],
    collect() {
      this.reset();
      this.set({ health: status().health }, 1);
    },
  });
  new Gauge({
    name: 'openrtc_agent_breaker',
    help: "1 for each agent's circuit breaker state now (closed, open, half_open); absent without a breaker",
    labelNames: ['agent', 'state'] as const,
    registers: [register],
    collect() {
      this.reset();
      for (const b of status().breakers ?? []) this.set({ agent: b.agent, state: b.state }, 1);
    },
  });

  metrics.onLifecycle((e) => {
    if (e.event === 'session_started') started.inc({ agent: e.agent });
    else if (e.event === 'session_active') toActive.observe({ agent: e.agent }, e.dispatchToActiveMs / 1000);
    else outcomes.inc({ agent: e.agent, outcome: e.outcome });
  });
  return register;
}

/** `--metrics-port P`: serves `/metrics` in Prometheus text format. */
export async function startMetricsServer(
  register: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://m').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('only GET /metrics\n');
      return;
    }
    register.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': register.contentType });
        res.end(text);
      },
      (err) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${String(err)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}/metrics`,
    port: bound,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
