import { type AnyActorRef, fromPromise } from 'xstate';
import { sessionMachine } from '../../actors/session.machine.ts';
import type { HostedSession, WorkerContext } from '../../actors/worker.types.ts';
import type { Logger } from '../logger.ts';
import type { DriverArgs, DriverEvents, DriverFactory, SessionDriver } from './driver.ts';

export type SpeechEvent = Parameters<DriverEvents['speech']>[0];

export interface SessionIO {
  createDriver: DriverFactory;
  log: Logger;
  /** The VAD heard the user start or stop speaking in a hosted session. */
  speech(hosted: HostedSession, e: SpeechEvent): void;
}

/**
 * The session machine with its phases run by a SessionDriver. Each session actor gets one driver,
 * made on its first phase from what its parent worker admitted (the agent's spec and the request);
 * the driver's own events go back to that actor.
 */
export function sessionLogic(io: SessionIO) {
  // IO handles keyed by the live session actor, so they go with it: no session state here.
  const drivers = new WeakMap<AnyActorRef, SessionDriver>();
  const driverOf = (phase: AnyActorRef): SessionDriver => {
    const session = phase._parent;
    if (!session) throw new Error('a session phase runs inside a session actor');
    let driver = drivers.get(session);
    if (!driver) {
      driver = io.createDriver(driverArgs(session, io));
      drivers.set(session, driver);
    }
    return driver;
  };
  return sessionMachine.provide({
    actors: {
      prewarm: fromPromise<void, { sessionId: string }>(({ self }) => driverOf(self).prewarm()),
      connect: fromPromise(({ input, self }) => driverOf(self).connect(input.attempt)),
      greet: fromPromise<void, { sessionId: string }>(({ self }) => driverOf(self).greet()),
      close: fromPromise(({ input, self }) => driverOf(self).close(input.reason)),
    },
  });
}

/** The hosted session a session actor runs, as its parent worker recorded it at admission. */
export function hostedSessionOf(
  session: AnyActorRef,
): { hosted: HostedSession; context: WorkerContext } | null {
  const context = session._parent?.getSnapshot().context as WorkerContext | undefined;
  const hosted = context?.sessions.find((s) => s.session === session.id);
  return context && hosted ? { hosted, context } : null;
}

function driverArgs(session: AnyActorRef, io: SessionIO): DriverArgs {
  const found = hostedSessionOf(session);
  const spec = found?.context.agents.find((a) => a.name === found.hosted.agent);
  if (!found || !spec) throw new Error(`session ${session.id} is not hosted by its worker`);
  const { hosted } = found;
  return {
    spec,
    start: hosted.request,
    log: io.log.child({ session: hosted.session, agent: hosted.agent, job: hosted.jobId }),
    events: {
      transportEnded: (reason) => session.send({ type: 'TRANSPORT_ENDED', ...(reason ? { reason } : {}) }),
      speech: (e) => io.speech(hosted, e),
      error: (e) => session.send({ type: 'FAIL', code: e.code, message: e.message }),
    },
  };
}
