// The baseline's call, shared by its agents (session-agent.mjs for density, capacity-agent.mjs for
// capacity) so both run exactly the same session: prewarm loads Silero once per job process; a call
// is a voice AgentSession with the providers of examples/agents/restaurant.ts (offline FakeSTT and
// FakeLLM, the same script) on the same local audio input our workers use
// (src/runtime/voice/local-transport.ts, bundled for plain node by bench/lib/agents-js.ts). The
// job's metadata names the audio ({ path, realtime, loops }). The room is never joined: the LiveKit
// double runs no rooms, and the session needs none with local audio.
import { stt, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';

const CALLER_SAYS = 'Hi, I would like to book a table for four people tonight at seven.';
const BOOKED = 'Booked a table for 4 at 19:00, confirmation R-4-1900.';

export async function prewarm(proc) {
  proc.userData.vad = await silero.VAD.load();
}

/** Starts the call of job `ctx` on `vad`; resolves with its audio source, once feeding. */
export async function startCall(ctx, vad) {
  const { LocalAudioSource, LocalAudioSink } = await import(process.env.OPENRTC_BENCH_LOCAL_TRANSPORT);
  const spec = JSON.parse(ctx.job.metadata);
  const source = await LocalAudioSource.open({ kind: 'wav', ...spec });
  const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: source.realtime });
  const session = new voice.AgentSession({
    vad,
    stt: new stt.testing.FakeSTT({ fakeTranscript: CALLER_SAYS }),
    llm: new voice.testing.FakeLLM([
      { input: CALLER_SAYS, toolCalls: [{ name: 'book_table', args: { partySize: 4, time: '19:00' } }] },
      { input: JSON.stringify(BOOKED), content: 'You are all set: a table for four at seven tonight.' },
    ]),
    turnHandling: { turnDetection: 'vad' },
  });
  session.input.audio = source;
  session.output.audio = sink;
  session.output.setAudioEnabled(false);
  await session.start({
    agent: new voice.Agent({
      instructions:
        'You answer the phone for Bella Vista, an Italian restaurant. Help callers book a table ' +
        'with book_table, then confirm the booking in one short sentence.',
    }),
    record: false,
  });
  source.start();
  return source;
}
