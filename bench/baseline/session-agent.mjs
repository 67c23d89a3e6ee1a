// The baseline's agent for real sessions, as an agents-js user writes it: prewarm loads Silero once
// per job process; entry runs a voice AgentSession with the providers of examples/agents/restaurant.ts
// (offline FakeSTT and FakeLLM, the same script), on the same local audio input our workers use
// (src/runtime/voice/local-transport.ts, bundled for plain node by bench/lib/agents-js.ts). The
// job's metadata names the audio ({ path, realtime, loops }); the entry reports its progress in
// <OPENRTC_BENCH_STATUS_DIR>/<job id>.json. The room is never joined: the LiveKit double runs no
// rooms, and the session needs none with local audio.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineAgent, stt, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';

const CALLER_SAYS = 'Hi, I would like to book a table for four people tonight at seven.';
const BOOKED = 'Booked a table for 4 at 19:00, confirmation R-4-1900.';

export default defineAgent({
  prewarm: async (proc) => {
    proc.userData.vad = await silero.VAD.load();
  },
  entry: async (ctx) => {
    const { LocalAudioSource, LocalAudioSink } = await import(process.env.OPENRTC_BENCH_LOCAL_TRANSPORT);
    const spec = JSON.parse(ctx.job.metadata);
    const source = await LocalAudioSource.open({ kind: 'wav', ...spec });
    const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: source.realtime });
    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad,
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
    const file = join(process.env.OPENRTC_BENCH_STATUS_DIR, `${ctx.job.id}.json`);
    let ended = false;
    void source.ended.then(() => {
      ended = true;
    });
    // Written whole, then renamed: the benchmark never reads a half-written file.
    const report = () => {
      writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, fedMs: source.fedMs, ended }));
      renameSync(`${file}.tmp`, file);
    };
    report();
    setInterval(report, 250).unref();
    await new Promise(() => {}); // the call lasts until the benchmark ends it
  },
});
