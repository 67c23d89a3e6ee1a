// The baseline's agent file, as an agents-js user writes it: prewarm loads Silero once per job
// process; entry runs a voice AgentSession in the room. Plain JS so job processes run under plain
// node (no TypeScript loader), the leanest way to run agents-js.
import { defineAgent, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';

export default defineAgent({
  prewarm: async (proc) => {
    proc.userData.vad = await silero.VAD.load();
  },
  entry: async (ctx) => {
    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad,
      turnHandling: { turnDetection: 'vad' },
    });
    await session.start({
      agent: new voice.Agent({ instructions: 'You are a helpful assistant.' }),
      room: ctx.room,
    });
    await ctx.connect();
  },
});
