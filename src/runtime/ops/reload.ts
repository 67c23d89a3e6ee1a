import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../logger.ts';
import type { RolloutOutcome } from '../supervisor/service.ts';

/** Files whose change reloads: modules (TypeScript, JavaScript) and JSON; not hidden editor files. */
const CODE_FILE = /^[^.].*\.([cm]?[jt]sx?|json)$/;

/** How often a queued rollout asks again while one started elsewhere runs. */
const IN_PROGRESS_RETRY_MS = 500;

/** How long the agents folder must be quiet after a change before a reload starts. */
export const RELOAD_DEBOUNCE_MS = 300;

/**
 * Runs rollouts one at a time, whoever asks (SIGHUP, a file change): a request made while one runs
 * is kept, and runs once it ends (requests made meanwhile collapse into that one).
 */
export class RolloutQueue {
  private running: Promise<RolloutOutcome> | undefined;
  private queued: Promise<RolloutOutcome> | undefined;

  constructor(
    private readonly roll: () => Promise<RolloutOutcome>,
    private readonly log: Logger,
  ) {}

  /** Asks for a rollout; resolves with the outcome of the one that covers this request. */
  request(reason: string): Promise<RolloutOutcome> {
    if (!this.running) return this.start(reason);
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.start(reason);
    });
    return this.queued;
  }

  private start(reason: string): Promise<RolloutOutcome> {
    this.log.info({ reason }, 'rolling out a new generation of workers');
    // The supervisor logs how it went (`rollout done` / `rollout failed`). One asked for over NATS
    // (`openrtc rollout`) may be under way: this one follows it.
    const run = (async () => {
      for (;;) {
        const outcome = await this.roll();
        if (outcome.ok || outcome.error.code !== 'rollout_in_progress') return outcome;
        await new Promise((r) => setTimeout(r, IN_PROGRESS_RETRY_MS));
      }
    })();
    this.running = run;
    run
      .finally(() => {
        if (this.running === run) this.running = undefined;
      })
      .catch(() => {});
    return run;
  }
}

/**
 * Watches a folder of agent modules (recursively) and calls `onChange` once its code files (.ts,
 * .js and kin, .json) have been quiet for `debounceMs` after a change. Returns a function that stops watching.
 */
export function watchAgents(
  dir: string,
  onChange: (files: string[]) => void,
  log: Logger,
  debounceMs = RELOAD_DEBOUNCE_MS,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = new Set<string>();
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { recursive: true }, (_event, file) => {
      // Code only: a log or data file an agent writes into its folder must not reload the pool.
      if (!file || !CODE_FILE.test(basename(String(file)))) return;
      changed.add(String(file));
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = [...changed].sort();
        changed.clear();
        onChange(files);
      }, debounceMs);
    });
  } catch (err) {
    log.warn({ dir, err: { message: (err as Error).message } }, 'cannot watch the agents folder: no reload');
    return () => {};
  }
  watcher.on('error', (err) =>
    log.warn({ dir, err: { message: err.message } }, 'agents folder watch failed'),
  );
  log.info({ dir }, 'watching the agents folder: a change reloads the workers');
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
