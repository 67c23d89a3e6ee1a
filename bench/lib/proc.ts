import { readdirSync, readFileSync } from 'node:fs';

/** Memory of one process from /proc/<pid>/smaps_rollup, in MB (PSS divides shared pages among sharers). */
export interface ProcMemory {
  rss_mb: number;
  pss_mb: number;
  pss_anon_mb: number;
  pss_file_mb: number;
}

const FIELDS = { Rss: 'rss_mb', Pss: 'pss_mb', Pss_Anon: 'pss_anon_mb', Pss_File: 'pss_file_mb' } as const;

/** Reads /proc/<pid>/smaps_rollup; throws when the process is gone. */
export function procMemory(pid: number): ProcMemory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const out: ProcMemory = { rss_mb: 0, pss_mb: 0, pss_anon_mb: 0, pss_file_mb: 0 };
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    const key = m && FIELDS[m[1] as keyof typeof FIELDS];
    if (key) out[key] = Number(m[2]) / 1024;
  }
  return out;
}

/** The sum of several processes' memory. */
export function sumMemory(pids: readonly number[]): ProcMemory {
  const total: ProcMemory = { rss_mb: 0, pss_mb: 0, pss_anon_mb: 0, pss_file_mb: 0 };
  for (const pid of pids) {
    const m = procMemory(pid);
    for (const k of Object.keys(total) as (keyof ProcMemory)[]) total[k] += m[k];
  }
  return total;
}

/** Parent pid of every live process, from /proc/<pid>/stat. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parens; the fields after its last ')' are plain.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(name), ppid);
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Every live descendant of `pid` (children, grandchildren, ...). */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const [child, parent] of parents()) byParent.set(parent, [...(byParent.get(parent) ?? []), child]);
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of byParent.get(queue.shift() as number) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

export { isAlive } from '../../src/runtime/process-alive.ts';

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
