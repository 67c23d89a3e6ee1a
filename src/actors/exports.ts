import { machineToJSON, machineToMarkdown, machineToMermaid } from './diagram.ts';
import { MACHINES, type MachineName } from './machines.ts';

const TITLES: Record<MachineName, string> = {
  session: 'Session machine (src/actors/session.machine.ts)',
  worker: 'Worker machine (src/actors/worker.machine.ts)',
  supervisor: 'Supervisor machine (src/actors/supervisor.machine.ts)',
};

/** The contract with the runtime, per machine: what it injects, sends, and hears. */
const NOTES: Record<MachineName, string> = {
  session: `
- Injected actors (\`machine.provide({actors})\`): \`prewarm\` {sessionId}, \`connect\` {sessionId, attempt},
  \`greet\` {sessionId}, \`close\` {sessionId, reason: ended|cancelled|failed}. A rejection may carry
  \`{code, message}\`.
- Events in: \`TRANSPORT_ENDED\` {reason?}, \`CANCEL\` {reason?}, \`FAIL\` {code, message}.
- Emitted: \`session.transition\` {sessionId, from, to, seq, event, failure?} on every state entered;
  \`session.retry\` {sessionId, attempt, delayMs, error} before each connect retry.
- Connect backoff: connectBackoffMs × 2^(attempt−1) minus up to half of it as jitter, capped at 5 s;
  the jitter comes from a seeded generator kept in the context.`,
  worker: `
- Injected actors: \`register\` {workerId, attempt} → {version, agents, heartbeatMs, supervisor?} (rejects
  with \`{code, message, retryable?}\`: retryable means no supervisor answered, and the chart waits
  \`registerBackoff\` (100 ms doubling to 2 s, jitter from a seeded generator in the context) before the next
  hello; anything else, e.g. version_incompatible, fails the worker); \`prewarm\` {workerId, agents} →
  optional {ms}; \`session\` (the session machine with its phases bound to a driver).
- Children: one session actor per admitted session, spawned with the session id as its id and stopped
  when it ends; the \`heartbeat\` callback actor (src/actors/heartbeat.ts, on the system's clock), spawned
  at the welcome and stopped in \`stopped\`/\`failed\`, which sends \`BEAT\` every heartbeatMs.
- Events in: \`STARTED\`, \`SESSION_ADMIT\` {request, now}, \`SESSION_CANCEL\` {sessionId, reason?},
  \`SESSION_ENDED\` {sessionId, state, seq, failure?, now} (a session actor's last transition),
  \`DRAIN\` {timeoutMs?}, \`SHUTDOWN\` {reason?} (cancels every session, then stops), \`LINK\` {up, now},
  \`SUPERVISOR_UP\`, \`WELCOMED\` {welcome}, \`BEAT\`.
- Emitted: \`worker.transition\` {workerId, from, to, seq, event, failure?}, \`session.admitted\`,
  \`session.refused\` {error: duplicate_session, no_capacity, draining, unknown_agent}, \`session.ended\`
  {ended, failure?}, \`worker.heartbeat\` {endsSince}, \`worker.hello\`, \`worker.register_retry\`
  {attempt, delayMs, error}.
- The context holds the hosted sessions (id, agent, job, request, admittedAt) and the bounded record of
  ended sessions (endedLimit, 10 minutes); each session's state and seq live in its own actor. Hello,
  heartbeat and the answer to a repeated session.start are projections of the snapshot
  (src/actors/worker.reports.ts). \`admissionRefusal(state, context, request)\` answers the admission
  question from a snapshot.`,
  supervisor: `
- Events in (each carries \`now\`, ms): \`WORKER_HELLO\`, \`HEARTBEAT\`, \`WORKER_STATE\`, \`SESSION_STATE\`,
  \`SESSION_ENDED\`, \`SESSION_SPEECH\` (the protocol message bodies), \`WORKER_SPAWNED\` {worker, pid}
  (a local worker's process started), \`WORKER_EXITED\` {worker, pid?, code, signal} (ignored when
  the pid is an earlier incarnation's), \`DISPATCH\` {requestId, sessionId, agent?, job?, explicitOnly?, transport?, audio?},
  \`PLACE_FAILED\` {sessionId, worker?, error}, \`DRAIN\` {timeoutMs?}, \`BUS\` {connected},
  \`REJECTED\` {reason} (refused at ingress). Internal: \`TICK\` (loss check five times per heartbeatMs),
  \`RESPAWN\` (a restart's backoff elapsed: none before the first restart in the intensity window).
- Emitted: \`dispatch.result\`, \`session.place\` (with the job and transport to start),
  \`session.lost\`, \`session.ended\`, \`session.cancel\`, \`worker.spawn\`, \`worker.kill\`,
  \`worker.drain\`, \`worker.shutdown\`, \`worker.given_up\`, \`worker.fenced\`,
  \`supervisor.announce\`, \`pool.health\`, \`supervisor.transition\`.
- The context holds all pool state: workers (epochs, fencing, last errors, rejection counters),
  sessions (seq, placement, start transport until confirmed), and a bounded record of ended
  sessions with their outcomes (endedLimit). Status, the ledger and the drain's exit code are
  projections of it (src/actors/pool-views.ts).
- Fencing: worker messages count only from the epoch of the worker's live incarnation. Session
  reports apply only with a higher seq. A fenced incarnation that once said hello is told to shut
  down (once); a worker never heard from makes the supervisor announce itself again. A worker
  silent for missedHeartbeats × heartbeatMs, up to the time the supervisor has heard everything
  (HEARD: its ping through NATS came back), is lost: its sessions end as worker_lost, and the
  restart policy (permanent/transient/temporary, at most maxRestarts per periodMs, exponential
  backoff) restarts it or gives it up (pool degraded).
- Adoption: a hello's live sessions are re-adopted; its \`ended\` record (and a heartbeat's recent
  one) ends known sessions with their true outcome and records unknown ones.`,
};

const INTRO = `# Machines

Generated by \`npm run machines\` from the machines themselves (src/actors); do not edit by hand.
A test fails when these files differ from a fresh export. Each machine is pure: its side effects
are injected actors and actions, or events it emits for the runtime (src/runtime) to carry out.
Time enters only through \`after\` delays (so a SimulatedClock drives them) and the \`now\` that
runtime events carry. Each machine also has \`<name>.mmd\` (mermaid) and \`<name>.json\`
(\`machine.toJSON()\` plus eventless transitions) here.
`;

/** Every file of docs/machines by name, with its exact content. */
export function machineExports(): Record<string, string> {
  const files: Record<string, string> = {};
  const sections: string[] = [];
  for (const name of Object.keys(MACHINES) as MachineName[]) {
    const machine = MACHINES[name];
    files[`${name}.mmd`] = machineToMermaid(machine);
    files[`${name}.json`] = machineToJSON(machine);
    sections.push(machineToMarkdown(TITLES[name], machine, NOTES[name]));
  }
  files['README.md'] = [INTRO, ...sections].join('\n');
  return files;
}
