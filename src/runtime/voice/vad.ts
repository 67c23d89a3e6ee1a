import type { VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { ensureAgentsLogger } from './agents-log.ts';

/** Silero options (the plugin does not export their type); the model runs at 16 kHz. */
export type SharedVadOptions = NonNullable<Parameters<typeof silero.VAD.load>[0]>;

export interface SharedVad {
  vad: VAD;
  /** How long the load took, in ms (0 when this call reused the loaded model). */
  ms: number;
}

let loading: Promise<{ vad: VAD; ms: number }> | undefined;
let loadedWith: string | undefined;
let loads = 0;

/** The options differ from those the shared VAD was loaded with; one process has one VAD. */
export class VadOptionsConflictError extends Error {
  override name = 'VadOptionsConflictError';
}

/**
 * Loads the worker's Silero VAD once per process and returns it to every caller.
 * Options apply to the first load; a later call with different options throws
 * VadOptionsConflictError. A failed load is forgotten, so the next call retries.
 */
export async function loadSharedVad(opts?: SharedVadOptions): Promise<SharedVad> {
  ensureAgentsLogger(); // the VAD's streams log through agents-js
  const key = JSON.stringify(opts ?? {});
  if (loading) {
    if (opts && key !== loadedWith) {
      throw new VadOptionsConflictError(
        `the shared VAD was loaded with ${loadedWith}; cannot reload it with ${key} in the same process`,
      );
    }
    const { vad } = await loading;
    return { vad, ms: 0 };
  }
  loadedWith = key;
  loads += 1;
  const started = performance.now();
  const attempt = silero.VAD.load(opts).then((vad) => ({ vad, ms: performance.now() - started }));
  loading = attempt;
  try {
    return await attempt;
  } catch (err) {
    if (loading === attempt) {
      loading = undefined;
      loadedWith = undefined;
    }
    throw err;
  }
}

/** How many times this process has called `silero.VAD.load()`. */
export function vadLoadCount(): number {
  return loads;
}
