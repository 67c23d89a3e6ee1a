import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './report.ts';

export interface HeapReading {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
}

/** What bench/profile/memory-probe.cjs writes: MB, before and after a full GC. */
export interface MemoryProbeReading {
  pid: number;
  before: HeapReading;
  after: HeapReading;
  snapshot?: string;
}

/**
 * Asks processes that preloaded bench/profile/memory-probe.cjs (see `env`) for their heap, by
 * SIGUSR2; each answers with a file.
 */
export class MemoryProbe {
  readonly dir = mkdtempSync(join(tmpdir(), 'openrtc-memprobe-'));

  /** The environment that makes a node process answer this probe. */
  env(snapshot = false): NodeJS.ProcessEnv {
    const preload = `--require ${ROOT}bench/profile/memory-probe.cjs`;
    return {
      NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' '),
      OPENRTC_MEMORY_PROBE_DIR: this.dir,
      ...(snapshot ? { OPENRTC_MEMORY_PROBE_SNAPSHOT: '1' } : {}),
    };
  }

  /** Signals `pid` and waits for its reading (the full GC it runs takes a moment). */
  async read(pid: number, timeoutMs = 30_000): Promise<MemoryProbeReading> {
    const file = join(this.dir, `${pid}.json`);
    rmSync(file, { force: true });
    process.kill(pid, 'SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (Date.now() > deadline)
        throw new Error(`process ${pid} gave no memory reading (is memory-probe.cjs preloaded?)`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return JSON.parse(readFileSync(file, 'utf8')) as MemoryProbeReading;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
