// agents-js's own worker, as the baseline: a real AgentServer from @livekit/agents with
// `numIdleProcesses` prewarmed job processes. Given a LiveKit server (the protocol double,
// test/support/livekit-server-double.ts) it registers there and takes its jobs, one process per
// job; without one it is pointed at an unreachable URL (its process pool forks and prewarms all
// the same). Runs under plain node (no TypeScript loader), so its job processes are exactly what
// `node agent.js start` forks.
//
//   node bench/baseline/agents-js-server.mjs <agent file> <numIdleProcesses> [<livekit JSON>]
//     (forked with IPC; livekit JSON: { url, apiKey, apiSecret, agentName })
//
// Reports each process's fork → initializeResponse time to the parent over IPC. It times the real
// code by wrapping SupervisedProc.start/initialize, the methods ProcPool itself calls: the same
// module instance, because Node caches ES modules by URL.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [agentFile, idle, livekitJson] = process.argv.slice(2);
const livekit = livekitJson ? JSON.parse(livekitJson) : undefined;
const send = (msg) => process.send?.(msg);
const dist = dirname(createRequire(import.meta.url).resolve('@livekit/agents'));
const load = (file) => import(pathToFileURL(join(dist, file)).href);
const { SupervisedProc } = await load('ipc/supervised_proc.js');
const { AgentServer, ServerOptions, initializeLogger } = await load('index.js');

const forkedAt = new WeakMap();
const start = SupervisedProc.prototype.start;
SupervisedProc.prototype.start = function (...args) {
  forkedAt.set(this, performance.now());
  return start.apply(this, args);
};
const initialize = SupervisedProc.prototype.initialize;
SupervisedProc.prototype.initialize = async function (...args) {
  await initialize.apply(this, args);
  send({
    type: 'proc',
    kind: this.processKind,
    pid: this.proc.pid,
    initMs: performance.now() - forkedAt.get(this),
  });
};

initializeLogger({ pretty: false, level: 'error' });
const server = new AgentServer(
  new ServerOptions({
    agent: agentFile,
    numIdleProcesses: Number(idle),
    ...(livekit
      ? {
          wsURL: livekit.url,
          apiKey: livekit.apiKey,
          apiSecret: livekit.apiSecret,
          agentName: livekit.agentName,
          // The machine's CPU load would mark the worker full on a busy benchmark machine: the
          // benchmark decides how many jobs it sends.
          loadFunc: async () => 0,
        }
      : {
          // Nothing listens on the discard port: the worker's WebSocket is refused and retried,
          // while its process pool runs as usual.
          wsURL: 'ws://127.0.0.1:9',
          apiKey: 'bench',
          apiSecret: 'bench-secret-not-used',
        }),
    initializeProcessTimeout: 120_000,
    maxRetry: 1_000,
  }),
);
server.run().catch((err) => send({ type: 'error', message: String(err?.message ?? err) }));
send({ type: 'started', pid: process.pid });

process.on('message', async (msg) => {
  if (msg?.type !== 'close') return;
  await server.close().catch(() => {});
  send({ type: 'closed' });
  process.exit(0);
});
// The parent is gone: do not leave a pool of job processes behind.
process.on('disconnect', () => process.exit(0));
