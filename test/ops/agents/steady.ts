import { voice } from '@livekit/agents';
import { defineAgent } from '../../../src/runtime/agents/define.ts';

// A plain agent: its session lasts as long as its input audio.
export default defineAgent({
  name: 'steady',
  agent: () => new voice.Agent({ instructions: 'steady' }),
});
