import { availableParallelism, cpus, release, totalmem } from 'node:os';

export interface Hardware {
  cpu: string;
  cores: number;
  ram_gb: number;
  node: string;
  os: string;
}

/** The machine a figure was measured on; every benchmark's JSON line carries it. */
export function hardware(): Hardware {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    ram_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}
