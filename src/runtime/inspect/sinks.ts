import type { NodeConnectionOptions } from '@nats-io/transport-node';
import type { Logger } from '../logger.ts';
import { JsonlMetricsSink } from './metrics/jsonl.ts';
import { type MetricsSource, PoolMetrics } from './metrics/pool-metrics.ts';
import { poolRegistry, startMetricsServer } from './metrics/prometheus.ts';

/** What a pool may run next to its supervisor to be looked at. All off by default. */
export interface PoolSinkOptions {
  /** `--metrics-jsonl FILE`: OpenRTC's JSONL metrics stream. */
  metricsJsonl?: string;
  /** Interval of the JSONL snapshots. Default 5000. */
  metricsEveryMs?: number;
  /** `--metrics-port P`: Prometheus /metrics (0 picks a free port). */
  metricsPort?: number;
  /** `dev --inspect`: the web inspector on this port (0 picks a free port). */
  inspectPort?: number;
}

export interface PoolSinks {
  metricsUrl?: string;
  inspectorUrl?: string;
  stop(): Promise<void>;
}

/** Starts the requested sinks for a supervisor running in this process. */
export async function startPoolSinks(
  ctx: {
    service: MetricsSource;
    registeredAgents: number;
    url: string;
    pool: string;
    natsAuth?: Partial<NodeConnectionOptions>;
    log: Logger;
  },
  o: PoolSinkOptions,
): Promise<PoolSinks> {
  const stops: Array<() => Promise<void> | void> = [];
  const out: PoolSinks = {
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
  try {
    if (o.metricsJsonl !== undefined || o.metricsPort !== undefined) {
      const metrics = new PoolMetrics(ctx.service, ctx.registeredAgents);
      stops.push(() => metrics.close());
      if (o.metricsJsonl !== undefined) {
        const sink = new JsonlMetricsSink(metrics, o.metricsJsonl, o.metricsEveryMs);
        stops.push(() => sink.close());
        ctx.log.info({ file: o.metricsJsonl }, 'metrics stream (JSONL) started');
      }
      if (o.metricsPort !== undefined) {
        const server = await startMetricsServer(poolRegistry(metrics), o.metricsPort);
        stops.push(() => server.close());
        out.metricsUrl = server.url;
        ctx.log.info({ url: server.url }, 'Prometheus metrics served');
      }
    }
    if (o.inspectPort !== undefined) {
      const { NatsInspectSource } = await import('./source.ts');
      const { startInspectorServer } = await import('./web/server.ts');
      const source = await NatsInspectSource.connect({
        url: ctx.url,
        pool: ctx.pool,
        log: ctx.log,
        ...(ctx.natsAuth ? { natsAuth: ctx.natsAuth } : {}),
      });
      stops.push(() => source.close());
      const server = await startInspectorServer({ source, port: o.inspectPort }).catch((err) => {
        // The default port may be taken (another pool in dev): any free port will do.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        return startInspectorServer({ source, port: 0 });
      });
      stops.push(() => server.close());
      out.inspectorUrl = server.url;
      ctx.log.info({ url: server.url }, 'web inspector listening');
    }
  } catch (err) {
    await out.stop();
    throw err;
  }
  return out;
}
