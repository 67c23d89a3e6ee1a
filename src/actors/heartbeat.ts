import { type EventObject, fromCallback } from 'xstate';

/** The event the heartbeat actor sends its parent on every beat. */
export interface Beat {
  type: 'BEAT';
}

/**
 * A heartbeat as a callback actor: tells its parent BEAT at once, then every `intervalMs`, until
 * it is stopped. Its timer is the actor system's scheduler, so it runs on the system's clock (a
 * SimulatedClock in tests) and dies with the actor: a stopped actor's scheduled events are
 * cancelled.
 */
export const heartbeat = fromCallback<EventObject, { intervalMs: number }>(
  ({ input, self, system, sendBack, receive }) => {
    const next = () =>
      system.scheduler.schedule(self, self, { type: 'heartbeat.tick' }, input.intervalMs, 'tick');
    receive(() => {
      sendBack({ type: 'BEAT' } satisfies Beat);
      next();
    });
    sendBack({ type: 'BEAT' } satisfies Beat);
    next();
    return () => system.scheduler.cancel(self, 'tick');
  },
);
