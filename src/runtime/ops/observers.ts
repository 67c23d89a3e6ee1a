import { pathToFileURL } from 'node:url';
import type { Actor } from 'xstate';
import { tenantOf } from '../../actors/pool-limits.ts';
import type { SupervisorMachine } from '../../actors/supervisor.machine.ts';
import type { ErrorData, SessionState } from '../../protocol/index.ts';
import { toErrorData } from '../../protocol/index.ts';
import type { Logger } from '../logger.ts';
import { RUN_FROM } from '../run-from.ts';

/** A session was placed on a worker (a dispatch that got a session; not a move, not a repeat). */
export interface SessionStartEvent {
  type: 'session.start';
  pool: string;
  session: string;
  agent: string;
  worker: string;
  jobId: string;
  room: string;
  /** The job metadata as dispatched, when any. */
  metadata?: string;
  /** The tenant named in the metadata (its `tenant` key), when any. */
  tenant?: string;
  /** Unix ms. */
  at: number;
}

/** A session ended, with its outcome: from its worker, or the supervisor's verdict (worker lost). */
export interface SessionEndEvent {
  type: 'session.end';
  pool: string;
  session: string;
  agent: string;
  worker: string;
  jobId: string;
  outcome: 'success' | 'failed' | 'cancelled';
  state: SessionState;
  /** The supervisor decided it (its worker was lost), rather than the worker reporting it. */
  lost: boolean;
  error?: ErrorData;
  /** When it started, if this supervisor saw it start; with the duration then. */
  startedAt?: number;
  durationMs?: number;
  tenant?: string;
  /** Unix ms. */
  at: number;
}

export type ObserverEvent = SessionStartEvent | SessionEndEvent;

/**
 * What an observer module exports (as named exports, or as its default export): either hook may
 * be absent. Both get plain data (a copy per observer) and may be async. Whatever they throw or
 * reject with is logged; it never reaches a session or the supervisor.
 */
export interface SessionObserver {
  onSessionStart?(e: SessionStartEvent): unknown;
  onSessionEnd?(e: SessionEndEvent): unknown;
}

interface Loaded {
  file: string;
  observer: SessionObserver;
}

const OUTCOME: Record<string, SessionEndEvent['outcome']> = {
  closed: 'success',
  failed: 'failed',
  cancelled: 'cancelled',
};

let typescript: Promise<void> | undefined;

/** Imports each observer module; a module that fails to load or exports no hook is an error naming its file. */
export async function loadObservers(files: readonly string[]): Promise<Loaded[]> {
  const out: Loaded[] = [];
  for (const file of files) {
    let mod: Record<string, unknown>;
    // A TypeScript observer needs tsx when this process runs from the build (as agent modules do).
    if (RUN_FROM !== 'src' && /\.[cm]?tsx?$/.test(file)) {
      typescript ??= import('tsx/esm/api').then(({ register }) => {
        register();
      });
      await typescript;
    }
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`observer ${file}: cannot import it (${(err as Error).message})`);
    }
    const candidate = (
      mod.default && typeof mod.default === 'object' ? mod.default : mod
    ) as Partial<SessionObserver>;
    const observer: SessionObserver = {};
    if (typeof candidate.onSessionStart === 'function') observer.onSessionStart = candidate.onSessionStart;
    if (typeof candidate.onSessionEnd === 'function') observer.onSessionEnd = candidate.onSessionEnd;
    if (!observer.onSessionStart && !observer.onSessionEnd) {
      throw new Error(`observer ${file}: exports neither onSessionStart nor onSessionEnd`);
    }
    out.push({ file, observer });
  }
  return out;
}

/**
 * Feeds the supervisor's session starts and ends to the observers, outside the machine's step
 * (on the next macrotask), each observer with its own copy. A throwing or rejecting observer is
 * logged with its file and the session, and nothing else happens.
 */
export class SessionObservers {
  private readonly starts = new Map<string, { at: number; tenant?: string }>();
  private readonly subs: { unsubscribe(): void }[] = [];
  private pending = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly observers: readonly Loaded[],
    private readonly pool: string,
    private readonly log: Logger,
    private readonly tenantKey = 'tenant',
  ) {}

  attach(actor: Actor<SupervisorMachine>): void {
    if (this.observers.length === 0) return;
    this.subs.push(
      actor.on('session.place', (e) => {
        if (e.moved) return;
        const at = Date.now();
        const tenant = tenantOf(e.job.metadata, this.tenantKey);
        this.starts.set(e.sessionId, { at, ...(tenant ? { tenant } : {}) });
        this.deliver({
          type: 'session.start',
          pool: this.pool,
          session: e.sessionId,
          agent: e.agent,
          worker: e.worker,
          jobId: e.job.id,
          room: e.job.room,
          ...(e.job.metadata !== undefined ? { metadata: e.job.metadata } : {}),
          ...(tenant ? { tenant } : {}),
          at,
        });
      }),
      actor.on('session.ended', (e) => this.ended(e, false)),
      actor.on('session.lost', (e) => this.ended({ ...e, state: 'failed' }, true)),
    );
  }

  /** Resolves when every delivery so far has settled (tests, and a clean stop). */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  private ended(
    e: {
      sessionId: string;
      agent: string;
      worker: string;
      jobId: string;
      state: SessionState;
      error?: ErrorData;
    },
    lost: boolean,
  ): void {
    const at = Date.now();
    const start = this.starts.get(e.sessionId);
    this.starts.delete(e.sessionId);
    this.deliver({
      type: 'session.end',
      pool: this.pool,
      session: e.sessionId,
      agent: e.agent,
      worker: e.worker,
      jobId: e.jobId,
      outcome: OUTCOME[e.state] ?? 'failed',
      state: e.state,
      lost,
      ...(e.error ? { error: e.error } : {}),
      ...(start ? { startedAt: start.at, durationMs: at - start.at } : {}),
      ...(start?.tenant ? { tenant: start.tenant } : {}),
      at,
    });
  }

  private deliver(event: ObserverEvent): void {
    this.pending++;
    setImmediate(() => {
      const runs = this.observers.map(({ file, observer }) => {
        const hook = event.type === 'session.start' ? observer.onSessionStart : observer.onSessionEnd;
        if (!hook) return undefined;
        const fail = (err: unknown) =>
          this.log.error(
            { observer: file, hook: hook.name, session: event.session, err: toErrorData(err) },
            'session observer failed (the session is not affected)',
          );
        try {
          return Promise.resolve(hook.call(observer, structuredClone(event) as never)).catch(fail);
        } catch (err) {
          fail(err);
          return undefined;
        }
      });
      void Promise.allSettled(runs).then(() => {
        this.pending--;
        if (this.pending === 0) for (const r of this.idle.splice(0)) r();
      });
    });
  }
}
