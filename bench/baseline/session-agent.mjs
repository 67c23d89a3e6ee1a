// The baseline's agent for real sessions (density), as an agents-js user writes it: the call of
// call.mjs. The entry reports its progress in <OPENRTC_BENCH_STATUS_DIR>/<job id>.json.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineAgent } from '@livekit/agents';
import { prewarm, startCall } from './call.mjs';

export default defineAgent({
  prewarm,
  entry: async (ctx) => {
    const source = await startCall(ctx, ctx.proc.userData.vad);
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
