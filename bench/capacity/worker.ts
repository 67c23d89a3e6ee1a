/**
 * The pool side's probe process: a real worker (`runWorker`, exactly what `openrtc worker` runs:
 * NATS bus, worker machine, session machines, VoiceSessions on one shared Silero VAD), plus an
 * event loop probe in the same process, answering `sample` requests over IPC. Forked by
 * capacity.bench.ts; sessions arrive through the real supervisor and NATS.
 *
 *   worker.ts <nats url> <pool> <worker id> <capacity>
 */
import { runWorker } from '../../src/runtime/worker/run.ts';
import { startLoopProbe } from './loop-probe.ts';
import type { FromProbe, ToProbe } from './messages.ts';

const [nats, pool, id, capacity] = process.argv.slice(2) as [string, string, string, string];
const send = (m: FromProbe) => process.send?.(m);
const loop = startLoopProbe();

process.on('message', async (m: ToProbe) => {
  // Speech marks travel over NATS (session.speech), as any client sees them.
  if (m.type === 'sample') send({ type: 'sample', loop: await loop.sample(m.windowMs), speech: [] });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
const code = await runWorker({ nats, pool, id, capacity: Number(capacity), pretty: false });
process.exit(code);
