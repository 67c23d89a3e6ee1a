import type { AnyStateMachine } from 'xstate';
import { machineToJSON, machineToMermaid } from '../actors/diagram.ts';
import { sessionMachine } from '../actors/session.machine.ts';
import { supervisorMachine } from '../actors/supervisor.machine.ts';
import { workerMachine } from '../actors/worker.machine.ts';
import { CliError } from './errors.ts';

const MACHINES: Record<string, AnyStateMachine> = {
  session: sessionMachine,
  worker: workerMachine,
  supervisor: supervisorMachine,
};

/** `openrtc machines`: prints the statecharts that run, as mermaid or JSON. */
export async function machinesCommand(flags: {
  format: 'mermaid' | 'json';
  machine?: string;
}): Promise<number> {
  const names = flags.machine ? [flags.machine] : Object.keys(MACHINES);
  for (const name of names) {
    const machine = MACHINES[name];
    if (!machine)
      throw new CliError(`unknown machine '${name}': choose one of ${Object.keys(MACHINES).join(', ')}`);
    if (flags.format === 'json') process.stdout.write(`${machineToJSON(machine).trimEnd()}\n`);
    else process.stdout.write(`%% ${name}\n${machineToMermaid(machine).trimEnd()}\n\n`);
  }
  return 0;
}
