import { JobProcess } from '@livekit/agents';
import { loadSharedVad } from '../voice/vad.ts';

let shared: Promise<JobProcess> | undefined;

/**
 * The worker's one JobProcess, shared by every LiveKit session it hosts (agents-js makes one per
 * job process). As after an agents-js `prewarm`, `userData.vad` holds the worker's Silero VAD.
 */
export function sharedJobProcess(): Promise<JobProcess> {
  shared ??= loadSharedVad().then(
    ({ vad }) => {
      const proc = new JobProcess();
      proc.userData.vad = vad;
      return proc;
    },
    (err) => {
      shared = undefined; // a failed load is retried by the next session
      throw err;
    },
  );
  return shared;
}
