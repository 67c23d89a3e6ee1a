import { sessionMachine } from './session.machine.ts';
import { supervisorMachine } from './supervisor.machine.ts';
import { workerMachine } from './worker.machine.ts';

/** Every machine of the project by name, as drawn in docs/machines and by `openrtc machines`. */
export const MACHINES = {
  session: sessionMachine,
  worker: workerMachine,
  supervisor: supervisorMachine,
} as const;
export type MachineName = keyof typeof MACHINES;
