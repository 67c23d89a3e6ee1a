// The capacity benchmark's agents-js agent: the call of call.mjs (the density baseline's session,
// here looping in real time), plus what the capacity criterion reads in every job process, measured
// as our worker is measured:
// - the event loop, by the same probe (bench/capacity/loop-probe.ts, bundled for plain node) over
//   a window the benchmark opens by writing <OPENRTC_BENCH_STATUS_DIR>/window.json ({ seq, windowMs });
// - the speech boundaries Silero reports, through the same VAD view our workers use
//   (src/runtime/voice/session-vad.ts, bundled for plain node), placed on the input audio timeline.
// Each job writes <OPENRTC_BENCH_STATUS_DIR>/<job id>.json every 250 ms (whole, then renamed).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineAgent } from '@livekit/agents';
import { prewarm, startCall } from './call.mjs';

export default defineAgent({
  prewarm,
  entry: async (ctx) => {
    const { SessionVad } = await import(process.env.OPENRTC_BENCH_SESSION_VAD);
    const { startLoopProbe } = await import(process.env.OPENRTC_BENCH_LOOP_PROBE);
    const dir = process.env.OPENRTC_BENCH_STATUS_DIR;
    const speech = [];
    const vad = new SessionVad(ctx.proc.userData.vad, {
      onSpeech: (e) => speech.push({ kind: e.kind, atMs: e.atMs, ts: Date.now() }),
    });
    await startCall(ctx, vad);
    const audioStartTs = Date.now();

    const probe = startLoopProbe();
    let seenSeq = 0;
    let sample;
    const windowFile = join(dir, 'window.json');
    const file = join(dir, `${ctx.job.id}.json`);
    const report = () => {
      if (existsSync(windowFile)) {
        try {
          const { seq, windowMs } = JSON.parse(readFileSync(windowFile, 'utf8'));
          if (seq > seenSeq) {
            seenSeq = seq;
            void probe.sample(windowMs).then((loop) => {
              sample = { seq, loop };
            });
          }
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
