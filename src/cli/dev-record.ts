import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { isAlive } from '../runtime/process-alive.ts';

/**
 * What `openrtc dev` records for this user, so `status`, `dispatch` and `inspect` find the local
 * pool without --nats: its NATS URL and pool name, and the pid that owns them.
 */
export interface DevRecord {
  url: string;
  pool: string;
  pid: number;
  agents: string;
  startedAt: string;
}

/** $XDG_STATE_HOME/openrtc/dev.json, else ~/.local/state/openrtc/dev.json. */
export function devRecordPath(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'openrtc', 'dev.json');
}

export function writeDevRecord(record: DevRecord, env: NodeJS.ProcessEnv = process.env): string {
  const path = devRecordPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** Removes the record if it is still the one `pid` wrote (a newer `openrtc dev` may have replaced it). */
export function removeDevRecord(pid: number, env: NodeJS.ProcessEnv = process.env): void {
  const found = readRecordFile(devRecordPath(env));
  if (found?.pid === pid) rmSync(devRecordPath(env), { force: true });
}

export type DevLookup =
  | { found: true; record: DevRecord; path: string }
  | { found: false; path: string; why: 'none' | 'stale'; record?: DevRecord };

/** The running `openrtc dev` of this user, if any; a record whose process is gone is stale. */
export function findDevPool(env: NodeJS.ProcessEnv = process.env): DevLookup {
  const path = devRecordPath(env);
  const record = readRecordFile(path);
  if (!record) return { found: false, path, why: 'none' };
  if (!isAlive(record.pid)) return { found: false, path, why: 'stale', record };
  return { found: true, record, path };
}

function readRecordFile(path: string): DevRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevRecord>;
    if (typeof r.url !== 'string' || typeof r.pool !== 'string' || typeof r.pid !== 'number')
      return undefined;
    return r as DevRecord;
  } catch {
    return undefined;
  }
}
