import { voice } from '@livekit/agents';
import { defineAgent } from 'openrtc';

/** A LiveKit test agent: rooms named `support-*` route here. Two quick connect attempts. */
export default defineAgent({
  name: 'support',
  greeting: { say: 'Support line, how can I help?' },
  limits: { connectAttempts: 2, connectBackoffMs: 50, connectMs: 20_000, closeMs: 3000 },
  agent: () => new voice.Agent({ instructions: 'You help callers with their support questions.' }),
});
