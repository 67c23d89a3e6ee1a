import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VAD } from '@livekit/agents';
import type * as silero from '@livekit/agents-plugin-silero';
import { SILERO_BATCHER_DEFAULTS, SileroBatcher } from './silero-batcher.ts';
import { SILERO_DEFAULTS } from './silero-defaults.ts';

// This module imports nothing of agents-js at load: a worker starts the Silero model's thread
// before @livekit/agents (and the plugin) are imported, so the two load at the same time.

type SileroOptions = NonNullable<Parameters<typeof silero.VAD.load>[0]>;
type InferenceSession = ConstructorParameters<typeof silero.VAD>[0];

/** Which Silero VAD a process shares: our batched one (batched-vad.ts) or the plugin's. */
export type VadImplementation = 'batched' | 'plugin';

/**
 * Silero options (the plugin does not export their type; both VADs take them with the same
 * meaning); the model runs at 16 kHz. `implementation` overrides OPENRTC_VAD.
 */
export type SharedVadOptions = SileroOptions & { implementation?: VadImplementation };

/** The VAD loadSharedVad loads: `opts.implementation`, else OPENRTC_VAD, else the batched one. */
export function vadImplementation(
  opts?: SharedVadOptions,
  env: NodeJS.ProcessEnv = process.env,
): VadImplementation {
  const chosen = opts?.implementation ?? (env.OPENRTC_VAD || 'batched');
  if (chosen === 'batched' || chosen === 'plugin') return chosen;
  throw new Error(`OPENRTC_VAD must be 'batched' or 'plugin', not '${chosen}'`);
}

export interface SharedVad {
  vad: VAD;
  /** How long the load took, in ms (0 when this call reused the loaded model). */
  ms: number;
}

interface OnnxParts {
  newInferenceSession(forceCPU: boolean): Promise<InferenceSession>;
  OnnxModel: new (session: InferenceSession, sampleRate: 8000 | 16000) => unknown;
}

/**
 * silero.VAD keeps every stream it ever opened in a private list (for `updateOptions`), so a VAD
 * shared by a worker's sessions would hold each finished session's stream and its 60 s speech
 * buffer forever (measured: ~120 KB heap + 1.9 MB ArrayBuffer per session). This VAD makes the
 * same streams from the same model and options without listing them. Options are fixed at load.
 * (A class made on first use: the plugin is imported only when OPENRTC_VAD=plugin asks for it.)
 */
function unlistedSileroVad(plugin: typeof silero) {
  return class UnlistedSileroVad extends plugin.VAD {
    constructor(
      private readonly session: InferenceSession,
      private readonly options: Required<SileroOptions>,
      private readonly parts: OnnxParts,
    ) {
      super(session, options);
    }

    override stream(): silero.VADStream {
      const model = new this.parts.OnnxModel(this.session, this.options.sampleRate);
      return new plugin.VADStream(this as silero.VAD, this.options, model as never);
    }
  };
}

/** The plugin's ONNX helpers live in a module its package does not export; reach it by file path. */
async function onnxParts(): Promise<OnnxParts | undefined> {
  try {
    const entry = createRequire(import.meta.url).resolve('@livekit/agents-plugin-silero');
    const mod = (await import(
      pathToFileURL(join(dirname(entry), 'onnx_model.js')).href
    )) as Partial<OnnxParts>;
    if (typeof mod.newInferenceSession === 'function' && typeof mod.OnnxModel === 'function') {
      return mod as OnnxParts;
    }
  } catch {
    // fall through: the plugin's layout changed
  }
  return undefined;
}

async function load(shared: SharedVadOptions | undefined): Promise<VAD> {
  const { implementation: _, ...opts } = shared ?? {};
  if (vadImplementation(shared) === 'batched') {
    const options = { ...SILERO_DEFAULTS, ...SILERO_BATCHER_DEFAULTS, ...opts };
    // The model's thread (onnxruntime and the model) starts first, and loads on another core
    // while this thread imports the VAD class and agents-js.
    const batcher = SileroBatcher.load(options);
    batcher.catch(() => {}); // awaited below; a failure is not unhandled meanwhile
    try {
      const { BatchedSileroVad } = await import('./batched-vad.ts');
      await ensureAgentsLogger();
      return BatchedSileroVad.on(await batcher, options);
    } catch (err) {
      void batcher.then((b) => b.close()).catch(() => {});
      throw err;
    }
  }
  const plugin = await import('@livekit/agents-plugin-silero');
  await ensureAgentsLogger();
  const parts = await onnxParts();
  if (!parts) {
    process.emitWarning(
      'openrtc: cannot reach the Silero plugin internals; using silero.VAD.load(), which keeps every closed stream',
    );
    return plugin.VAD.load(opts);
  }
  const options = { ...SILERO_DEFAULTS, ...opts };
  const UnlistedSileroVad = unlistedSileroVad(plugin);
  return new UnlistedSileroVad(await parts.newInferenceSession(options.forceCPU), options, parts);
}

/** agents-js's logger, which the VAD's streams log through (agents-log.ts). */
async function ensureAgentsLogger(): Promise<void> {
  (await import('./agents-log.ts')).ensureAgentsLogger();
}

let loading: Promise<{ vad: VAD; ms: number }> | undefined;
let loadedWith: string | undefined;
let loads = 0;

/** The options differ from those the shared VAD was loaded with; one process has one VAD. */
export class VadOptionsConflictError extends Error {
  override name = 'VadOptionsConflictError';
}

/**
 * Loads the worker's Silero VAD once per process and returns it to every caller: the batched VAD
 * (batched-vad.ts), or the plugin's with OPENRTC_VAD=plugin.
 * Options apply to the first load; a later call with different options throws
 * VadOptionsConflictError. A failed load is forgotten, so the next call retries.
 */
export async function loadSharedVad(opts?: SharedVadOptions): Promise<SharedVad> {
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
  const attempt = load(opts).then((vad) => ({ vad, ms: performance.now() - started }));
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

/** How many times this process has loaded the Silero model. */
export function vadLoadCount(): number {
  return loads;
}
