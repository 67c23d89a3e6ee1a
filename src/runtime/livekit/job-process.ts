import { JobProcess } from '@livekit/agents';
import { loadSharedVad } from '../voice/vad.ts';

/** Per agent (its module path, or its name), this worker's JobProcess. */
const processes = new Map<string, Promise<JobProcess>>();

/**
 * The agent's JobProcess in this worker, shared by that agent's LiveKit sessions here and by no
 * other agent's (agents-js makes one per job process, and a job process runs one agent). As after
 * an agents-js `prewarm`, `userData.vad` holds the worker's Silero VAD; anything else user code
 * puts in `userData` stays with this agent. A failed load is retried by the next session.
 */
export function agentJobProcess(agent: string): Promise<JobProcess> {
  let proc = processes.get(agent);
  if (!proc) {
    proc = loadSharedVad().then(({ vad }) => {
      const p = new JobProcess();
      p.userData.vad = vad;
      return p;
    });
    proc.catch(() => processes.delete(agent));
    processes.set(agent, proc);
  }
  return proc;
}
