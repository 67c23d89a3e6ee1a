import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface Hardware {
  cpu: string;
  cores: number;
  ram_gb: number;
  node: string;
  os: string;
  /** 1-minute load average when the figures were taken: other work on the machine skews timings. */
  load_1m: number;
}

/** The machine a figure was measured on; every benchmark's JSON line carries it. */
export function hardware(): Hardware {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    ram_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    load_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
