import { voice } from '@livekit/agents';
import { defineAgent } from 'openrtc';

/** A third LiveKit test agent, so explicit dispatch is tested to each of three agents in one pool. */
export default defineAgent({
  name: 'billing',
  limits: { connectAttempts: 2, connectBackoffMs: 50, connectMs: 20_000, closeMs: 3000 },
  agent: () => new voice.Agent({ instructions: 'You answer questions about invoices.' }),
});
