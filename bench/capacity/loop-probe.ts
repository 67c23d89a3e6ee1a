import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { LoopSample } from './messages.ts';

/** Timer resolution of the delay histogram; a sample is the full interval, so it is subtracted. */
const RESOLUTION_MS = 5;

/** Watches this process's event loop; `sample(ms)` measures one window from now. */
export function startLoopProbe(): { sample(windowMs: number): Promise<LoopSample> } {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  return {
    async sample(windowMs) {
      h.reset();
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, windowMs));
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      return {
        p50Ms: ms(h.percentile(50)),
        p99Ms: ms(h.percentile(99)),
        maxMs: ms(h.max),
        elu: performance.eventLoopUtilization(elu0).utilization,
        cpuCores: (cpu.user + cpu.system) / 1000 / wall,
        rssMb: process.memoryUsage.rss() / 2 ** 20,
      };
    },
  };
}
