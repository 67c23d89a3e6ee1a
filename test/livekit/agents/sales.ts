import { voice } from '@livekit/agents';
import { defineAgent } from 'openrtc';

/** A second LiveKit test agent, so routing has a choice (rooms named `sales-*`). */
export default defineAgent({
  name: 'sales',
  limits: { connectAttempts: 2, connectBackoffMs: 50, connectMs: 20_000, closeMs: 3000 },
  agent: () => new voice.Agent({ instructions: 'You answer questions about prices.' }),
});
