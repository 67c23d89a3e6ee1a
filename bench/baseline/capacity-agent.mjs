// The capacity benchmark's agents-js agent: the density baseline's session (session-agent.mjs: the
// same providers, the same local audio input, here looping in real time), plus what the capacity
// criterion reads in every job process, measured as our worker is measured:
// - the event loop delay (perf_hooks.monitorEventLoopDelay, 5 ms resolution, as
//   bench/capacity/loop-probe.ts) over a window the benchmark opens by writing
//   <OPENRTC_BENCH_STATUS_DIR>/window.json ({ seq, windowMs }), with the loop utilization and the
//   process's CPU over that window;
// - the speech boundaries Silero reports, through the same VAD view our workers use
//   (src/runtime/voice/session-vad.ts, bundled for plain node), placed on the input audio timeline.
// Each job writes <OPENRTC_BENCH_STATUS_DIR>/<job id>.json every 250 ms (whole, then renamed).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { defineAgent, stt, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';

const CALLER_SAYS = 'Hi, I would like to book a table for four people tonight at seven.';
const BOOKED = 'Booked a table for 4 at 19:00, confirmation R-4-1900.';
const RESOLUTION_MS = 5;

export default defineAgent({
  prewarm: async (proc) => {
    proc.userData.vad = await silero.VAD.load();
  },
  entry: async (ctx) => {
    const { LocalAudioSource, LocalAudioSink } = await import(process.env.OPENRTC_BENCH_LOCAL_TRANSPORT);
    const { SessionVad } = await import(process.env.OPENRTC_BENCH_SESSION_VAD);
    const dir = process.env.OPENRTC_BENCH_STATUS_DIR;
    const spec = JSON.parse(ctx.job.metadata);
    const speech = [];
    const vad = new SessionVad(ctx.proc.userData.vad, {
      onSpeech: (e) => speech.push({ kind: e.kind, atMs: e.atMs, ts: Date.now() }),
    });
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
    const audioStartTs = Date.now();

    const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    delay.enable();
    const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    let seenSeq = 0;
    let sample;
    const openWindow = ({ seq, windowMs }) => {
      seenSeq = seq;
      delay.reset();
      const elu0 = performance.eventLoopUtilization();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      setTimeout(() => {
        const cpu = process.cpuUsage(cpu0);
        const wall = performance.now() - t0;
        sample = {
          seq,
          loop: {
            p50Ms: ms(delay.percentile(50)),
            p99Ms: ms(delay.percentile(99)),
            maxMs: ms(delay.max),
            elu: performance.eventLoopUtilization(elu0).utilization,
            cpuCores: (cpu.user + cpu.system) / 1000 / wall,
            rssMb: process.memoryUsage.rss() / 2 ** 20,
          },
        };
      }, windowMs);
    };
    const windowFile = join(dir, 'window.json');
    const file = join(dir, `${ctx.job.id}.json`);
    const report = () => {
      if (existsSync(windowFile)) {
        try {
          const w = JSON.parse(readFileSync(windowFile, 'utf8'));
          if (w.seq > seenSeq) openWindow(w);
        } catch {
          // being written: the next report reads it
        }
      }
      writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, audioStartTs, speech, sample }));
      renameSync(`${file}.tmp`, file);
    };
    report();
    setInterval(report, 250).unref();
    await new Promise(() => {}); // the call lasts until the benchmark ends it
  },
});
