import { type Actor, createActor, fromPromise } from 'xstate';
import { resolveLimits, sessionMachine } from '../../actors/session.machine.ts';
import type { SessionTransition } from '../../actors/session.types.ts';
import type { AgentSpec, MessageOf, SessionState, SessionSummary } from '../../protocol/index.ts';
import type { Logger } from '../logger.ts';
import type { DriverEvents, DriverFactory, SessionDriver } from './driver.ts';

export interface HostedSessionCallbacks {
  transition(t: SessionTransition, hosted: HostedSession): void;
  speech(e: Parameters<DriverEvents['speech']>[0], hosted: HostedSession): void;
}

/** One session on this worker: its machine, driving its IO through a SessionDriver. */
export class HostedSession {
  readonly id: string;
  readonly agent: string;
  readonly jobId: string;
  readonly room: string;
  state: SessionState = 'prewarming';
  seq = 0;
  since = Date.now();
  readonly actor: Actor<typeof sessionMachine>;
  private readonly driver: SessionDriver;
  readonly log: Logger;

  constructor(
    readonly start: MessageOf<'session.start'>,
    opts: {
      worker: string;
      spec: AgentSpec;
      createDriver: DriverFactory;
      callbacks: HostedSessionCallbacks;
      log: Logger;
    },
  ) {
    const { spec, createDriver, callbacks, log } = opts;
    this.log = log;
    this.id = start.session;
    this.agent = start.agent;
    this.jobId = start.job.id;
    this.room = start.job.room;
    const events: DriverEvents = {
      transportEnded: (reason) => this.actor.send({ type: 'TRANSPORT_ENDED', ...(reason ? { reason } : {}) }),
      speech: (e) => callbacks.speech(e, this),
      error: (e) => this.actor.send({ type: 'FAIL', code: e.code, message: e.message }),
    };
    this.driver = createDriver({ spec, start, events, log });
    const driver = this.driver;
    const machine = sessionMachine.provide({
      actors: {
        prewarm: fromPromise<void, { sessionId: string }>(() => driver.prewarm()),
        connect: fromPromise(({ input }) => driver.connect(input.attempt)),
        greet: fromPromise<void, { sessionId: string }>(() => driver.greet()),
        close: fromPromise(({ input }) => driver.close(input.reason)),
      },
    });
    this.actor = createActor(machine, {
      id: this.id,
      input: {
        sessionId: this.id,
        agent: this.agent,
        worker: opts.worker,
        limits: resolveLimits({ ...spec.limits, ...start.limits }),
        hasGreeting: spec.greeting !== undefined,
      },
    });
    this.actor.on('session.transition', (t) => {
      this.state = t.to;
      this.seq = t.seq;
      this.since = Date.now();
      callbacks.transition(t, this);
    });
    this.actor.on('session.retry', (r) =>
      log.warn({ attempt: r.attempt, delayMs: r.delayMs, err: r.error }, 'connect failed; retrying'),
    );
  }

  run(): void {
    this.actor.start();
  }

  cancel(reason: string): void {
    this.actor.send({ type: 'CANCEL', reason });
  }

  summary(): SessionSummary {
    return {
      session: this.id,
      agent: this.agent,
      state: this.state,
      seq: Math.max(this.seq, 1),
      since: this.since,
      jobId: this.jobId,
    };
  }
}
