import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AvailabilityRequest,
  AvailabilityResponse,
  Job,
  JobAssignment,
  JobState,
  JobStatus,
  JobTermination,
  JobType,
  ParticipantPermission,
  RegisterWorkerRequest,
  RegisterWorkerResponse,
  Room,
  ServerInfo,
  ServerInfo_Edition,
  ServerMessage,
  type UpdateJobStatus,
  UpdateWorkerStatus,
  WorkerMessage,
  WorkerPong,
  WorkerStatus,
} from '@livekit/protocol';
import { AccessToken, TokenVerifier } from 'livekit-server-sdk';
import WebSocket, { WebSocketServer } from 'ws';
import { waitFor } from './wait.ts';

/*
 * A protocol-level double of livekit-server's agent service, built from @livekit/protocol's real
 * protobuf messages. Every rule below names the file of livekit-server (github.com/livekit/livekit)
 * or livekit/protocol it models; the constants keep the server's names. docs/livekit.md describes
 * the same rules for people.
 */

type Case = NonNullable<WorkerMessage['message']['case']>;
type ValueOf<C extends Case> = Extract<WorkerMessage['message'], { case: C }>['value'];

/** pkg/agent/worker.go RegisterTimeout: a socket must register within 10 s. */
export const REGISTER_TIMEOUT_MS = 10_000;
/** pkg/agent/worker.go AssignJobTimeout: an availability answer must come within 10 s. */
export const ASSIGN_JOB_TIMEOUT_MS = 10_000;
/** pkg/rtc/room.go waitForParticipantLeaving: after a dispatch deletion, the agent has 3 s to leave. */
export const PARTICIPANT_LEAVE_TIMEOUT_MS = 3000;
/** pkg/agent/worker.go AgentNameAttributeKey: stamped on the agent participant's token. */
export const AGENT_NAME_ATTRIBUTE = 'lk.agent_name';

export interface AgentSocketAttempt {
  path: string;
  authorization: string | undefined;
  /** Accepted: the path was /agent and the bearer JWT verified with the agent grant. */
  accepted: boolean;
  reason?: string;
}

/** A room join that reached the double (rtc-node's signal request, `/rtc...`). */
export interface RoomJoin {
  path: string;
  authorization: string | undefined;
  /** From the token, when it verified: who joins which room. */
  identity?: string;
  room?: string;
}

/** One agent-worker socket as the server sees it. */
export interface WorkerView {
  /** The connection's number (1, 2, ...), stable across its life. */
  conn: number;
  /** Set once registered (pkg/agent/worker.go MakeWorkerRegistration: a fresh id per socket). */
  workerId?: string;
  agentName: string;
  namespace: string;
  deployment: string;
  jobType: JobType;
  /** The version the worker registered with. */
  version: string;
  /** pkg/agent/worker.go: a new Worker is WS_AVAILABLE at load 0 until it says otherwise. */
  status: WorkerStatus;
  load: number;
  /** Jobs assigned to this worker and not ended (pkg/agent/worker.go runningJobs). */
  running: string[];
  open: boolean;
  /** Why the server closed the socket, if it did. */
  closedBecause?: string;
}

/** What the server recorded about one job, in order. */
export interface JobRecord {
  job: Job;
  /** Workers offered the job, in order, with their answer. */
  offers: { workerId: string; answer: 'accepted' | 'declined' | 'terminate' | 'timeout' | 'closed' }[];
  /** The worker that holds it (pkg/service/agentservice.go jobToWorker). */
  workerId?: string;
  token?: string;
  /** Every status the server recorded, in order (starting with JS_RUNNING at assignment). */
  statuses: { status: JobStatus; error: string; by: 'server' | 'worker' }[];
  /** Worker updates for this job the server ignored (the job had ended or was unknown). */
  ignored: UpdateJobStatus[];
}

export type JobOutcome =
  | { ok: true; job: Job; workerId: string; token: string }
  | { ok: true; job: Job; workerId: string; terminated: true }
  | { ok: false; job: Job; reason: 'no_worker' | 'timeout' | 'declined_by_all' };

export interface DispatchRequest {
  room: string;
  /** Empty: automatic dispatch (the room's default dispatch). */
  agentName?: string;
  metadata?: string;
  roomMetadata?: string;
  deployment?: string;
}

export interface DoubleOptions {
  apiKey?: string;
  apiSecret?: string;
  /** Seeds the weighted random choice of worker, so tests are deterministic. */
  seed?: number;
  registerTimeoutMs?: number;
  assignJobTimeoutMs?: number;
}

export interface LiveKitServerDouble {
  /** ws://127.0.0.1:<port> (the same port across restarts). */
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Every WorkerMessage received, decoded, in order. */
  readonly received: WorkerMessage[];
  /** The same, with the connection each came on. */
  readonly log: { conn: number; msg: WorkerMessage }[];
  readonly attempts: AgentSocketAttempt[];
  readonly joins: RoomJoin[];
  /** How room joins are treated: `hang` (never answered, the default) or `reset` (socket destroyed). */
  roomJoins: 'hang' | 'reset';
  /** Waits for a received message of this kind that satisfies `match`; returns its value. */
  next<C extends Case>(kind: C, match?: (v: ValueOf<C>) => boolean, timeoutMs?: number): Promise<ValueOf<C>>;
  /** Every received message of this kind (optionally from one connection). */
  all<C extends Case>(kind: C, conn?: number): ValueOf<C>[];
  /** Every agent-worker socket so far, as the server sees it. */
  workers(): WorkerView[];
  /** The registered worker under this agent name (and namespace), if one is connected. */
  worker(agentName: string, namespace?: string): WorkerView | undefined;
  /** Creates jobs as a room's agent dispatch does (pkg/agent/client.go LaunchJob); one outcome per namespace tried. */
  dispatch(req: DispatchRequest): Promise<JobOutcome[]>;
  /** Runs one job request (pkg/service/agentservice.go JobRequest) for a job built by the test. */
  request(job: Job): Promise<JobOutcome>;
  /** What the server recorded about a job. */
  job(jobId: string): JobRecord | undefined;
  /** pkg/service/agentservice.go JobTerminate; false when no worker holds the job. */
  terminate(jobId: string, reason?: 'requested' | 'agent_left_room'): boolean;
  /** Closes every agent socket (as a server restart or network loss does); listens on. */
  dropConnections(): void;
  /** Stops listening and drops every connection, then listens again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** mulberry32: a small seeded PRNG. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** pkg/agent/client.go GetAgentTopic: which workers a job request reaches. */
export function agentTopic(agentName: string, namespace: string, deployment: string): string {
  let topic = agentName === '' ? namespace : namespace === '' ? agentName : `${agentName}_${namespace}`;
  if (deployment !== '') topic += `_${deployment}`;
  return topic;
}

/** livekit/protocol agent/environment.go ValidateDeployment. */
function deploymentError(d: string): string | undefined {
  if (d === '') return undefined;
  if (Buffer.byteLength(d) > 64) return 'deployment exceeds 64 bytes';
  for (let i = 0; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (d[i] === '_') return `deployment contains reserved character '_'`;
    if (c <= 0x20 || c === 0x7f) return `deployment contains whitespace or control byte at position ${i}`;
  }
  return undefined;
}

interface Conn {
  n: number;
  ws: WebSocket;
  workerId?: string;
  reg?: RegisterWorkerRequest;
  status: WorkerStatus;
  load: number;
  running: Map<string, Job>;
  /** Offers awaiting an answer (pkg/agent/worker.go availability). */
  pending: Map<string, (r: AvailabilityResponse | 'closed') => void>;
  open: boolean;
  closedBecause?: string;
}

export async function startLiveKitServerDouble(opts: DoubleOptions = {}): Promise<LiveKitServerDouble> {
  const apiKey = opts.apiKey ?? 'APItestkey';
  const apiSecret = opts.apiSecret ?? randomBytes(24).toString('hex');
  const registerTimeoutMs = opts.registerTimeoutMs ?? REGISTER_TIMEOUT_MS;
  const assignJobTimeoutMs = opts.assignJobTimeoutMs ?? ASSIGN_JOB_TIMEOUT_MS;
  const random = seeded(opts.seed ?? 1);
  const verifier = new TokenVerifier(apiKey, apiSecret);
  const received: WorkerMessage[] = [];
  const log: { conn: number; msg: WorkerMessage }[] = [];
  const attempts: AgentSocketAttempt[] = [];
  const joins: RoomJoin[] = [];
  const conns: Conn[] = [];
  const jobs = new Map<string, JobRecord>();
  const jobToWorker = new Map<string, Conn>();
  const rtcSockets = new Set<Duplex>();
  const wss = new WebSocketServer({ noServer: true });
  let server: Server | undefined;
  /** Every socket the server accepted, upgraded or not: `close` ends them all. */
  const sockets = new Set<Duplex>();
  let port = 0;
  let connCount = 0;
  const double = { roomJoins: 'hang' as 'hang' | 'reset' };

  const write = (c: Conn, msg: ServerMessage) => {
    if (c.open && c.ws.readyState === WebSocket.OPEN) c.ws.send(msg.toBinary());
  };
  /** pkg/service/agentservice.go DispatchAgentWorkerSignal: a signal it cannot handle ends the socket. */
  const closeConn = (c: Conn, why: string) => {
    if (!c.open) return;
    c.closedBecause = why;
    c.ws.close(1008, why.slice(0, 120));
  };
  const registered = () => conns.filter((c) => c.open && c.reg && c.workerId);
  const key = (c: Conn) => {
    const r = c.reg as RegisterWorkerRequest;
    return `${r.agentName}\u0000${r.namespace ?? ''}\u0000${r.type}\u0000${r.deployment}`;
  };

  /** pkg/service/agentservice.go deregisterWorker: the socket's jobs are forgotten (deregisterJob). */
  const deregister = (c: Conn) => {
    c.open = false;
    for (const resolve of c.pending.values()) resolve('closed');
    c.pending.clear();
    for (const [jobId, holder] of jobToWorker) if (holder === c) jobToWorker.delete(jobId);
  };

  /** pkg/agent/worker.go UpdateJobStatus: only a running job of this worker changes; an end removes it. */
  const updateJob = (
    c: Conn,
    u: { jobId: string; status: JobStatus; error: string },
    by: 'server' | 'worker',
  ) => {
    const job = c.running.get(u.jobId);
    if (!job) return false;
    jobs.get(u.jobId)?.statuses.push({ status: u.status, error: u.error, by });
    if (u.status === JobStatus.JS_SUCCESS || u.status === JobStatus.JS_FAILED) {
      c.running.delete(u.jobId);
      // pkg/service/agentservice.go agentHandlerWorker.HandleUpdateJob: an ended job is deregistered.
      if (by === 'worker') jobToWorker.delete(u.jobId);
    }
    return true;
  };

  const onWorkerMessage = (c: Conn, msg: WorkerMessage) => {
    const m = msg.message;
    // pkg/agent/worker.go WorkerPingHandler: a WorkerPing gets a pong, registered or not.
    if (m.case === 'ping') {
      write(
        c,
        new ServerMessage({
          message: {
            case: 'pong',
            value: new WorkerPong({ lastTimestamp: m.value.timestamp, timestamp: BigInt(Date.now()) }),
          },
        }),
      );
      return;
    }
    if (!c.reg) {
      // pkg/service/agentservice.go HandshakeAgentWorker with pkg/agent/worker.go WorkerRegisterer:
      // until registered, only register (and ping) is handled; anything else closes the socket.
      if (m.case !== 'register')
        return closeConn(c, `unimplemented worker signal before register: ${m.case}`);
      // pkg/agent/worker.go HandleRegister: a known job type and a valid deployment.
      if (![JobType.JT_ROOM, JobType.JT_PUBLISHER, JobType.JT_PARTICIPANT].includes(m.value.type)) {
        return closeConn(c, 'unknown job type');
      }
      const bad = deploymentError(m.value.deployment);
      if (bad) return closeConn(c, bad);
      c.reg = m.value;
      c.workerId = `AW_${randomBytes(6).toString('hex')}`;
      write(
        c,
        new ServerMessage({
          message: {
            case: 'register',
            value: new RegisterWorkerResponse({
              workerId: c.workerId,
              serverInfo: new ServerInfo({
                edition: ServerInfo_Edition.Standard,
                version: 'double',
                agentProtocol: 1,
              }),
            }),
          },
        }),
      );
      return;
    }
    switch (m.case) {
      case 'register':
        // pkg/agent/worker.go: a registered Worker does not implement HandleRegister; the socket closes.
        return closeConn(c, 'unimplemented worker signal: Register (already registered)');
      case 'availability': {
        // pkg/agent/worker.go HandleAvailability: an answer for an unknown job is ignored.
        const resolve = c.pending.get(m.value.jobId);
        c.pending.delete(m.value.jobId);
        resolve?.(m.value);
        return;
      }
      case 'updateJob':
        // pkg/agent/worker.go HandleUpdateJob: an update for an unknown or ended job is ignored.
        if (!updateJob(c, m.value, 'worker')) jobs.get(m.value.jobId)?.ignored.push(m.value);
        return;
      case 'updateWorker':
        // pkg/agent/worker.go HandleUpdateWorker: status when given, load always; job_count is unused.
        if (m.value.status !== undefined) c.status = m.value.status;
        c.load = m.value.load;
        return;
      default:
        return; // simulateJob and migrateJob: not modelled (migrateJob is a no-op in the server)
    }
  };

  /** pkg/service/agentservice.go selectWorkerWeightedByLoad: WS_AVAILABLE only, weight max(0, 1 - load). */
  const selectWorker = (k: string, attempted: Set<Conn>): Conn | undefined => {
    const candidates = registered()
      .filter((c) => key(c) === k && !attempted.has(c) && c.status === WorkerStatus.WS_AVAILABLE)
      .map((c) => ({ c, w: Math.max(0, 1 - c.load) }))
      .filter((x) => x.w > 0);
    const sum = candidates.reduce((s, x) => s + x.w, 0);
    if (sum === 0) return undefined;
    let r = random() * sum;
    for (const x of candidates) {
      r -= x.w;
      if (r <= 0) return x.c;
    }
    return candidates[candidates.length - 1]?.c;
  };

  /** livekit/protocol agent/token.go BuildAgentToken: the agent participant's token, valid 1 h. */
  const buildAgentToken = (c: Conn, job: Job, res: AvailabilityResponse) => {
    const p = c.reg?.allowedPermissions ?? defaultPermissions();
    const token = new AccessToken(apiKey, apiSecret, {
      identity: res.participantIdentity,
      name: res.participantName,
      metadata: res.participantMetadata,
      // pkg/agent/worker.go AssignJob: the answer's attributes plus lk.agent_name.
      attributes: { ...res.participantAttributes, [AGENT_NAME_ATTRIBUTE]: c.reg?.agentName ?? '' },
      ttl: '1h',
    });
    token.kind = 'agent';
    token.addGrant({
      roomJoin: true,
      agent: true,
      room: job.room?.name ?? '',
      canSubscribe: p.canSubscribe,
      canPublish: p.canPublish,
      canPublishData: p.canPublishData,
      hidden: p.hidden,
      canUpdateOwnMetadata: p.canUpdateMetadata,
      canSubscribeMetrics: p.canSubscribeMetrics,
    });
    return token.toJwt();
  };

  /** pkg/agent/worker.go AssignJob: availability first, then (if accepted) the assignment. */
  const assignJob = async (
    c: Conn,
    job: Job,
    rec: JobRecord,
  ): Promise<'accepted' | 'declined' | 'terminate' | 'timeout' | 'closed'> => {
    const offered = job.clone();
    offered.state = new JobState({
      status: JobStatus.JS_RUNNING,
      workerId: c.workerId ?? '',
      startedAt: BigInt(Date.now()) * 1_000_000n,
      updatedAt: BigInt(Date.now()) * 1_000_000n,
    });
    const answer = new Promise<AvailabilityResponse | 'closed' | 'timeout'>((resolve) => {
      const timer = setTimeout(() => {
        c.pending.delete(job.id);
        resolve('timeout');
      }, assignJobTimeoutMs);
      c.pending.set(job.id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    write(
      c,
      new ServerMessage({
        message: { case: 'availability', value: new AvailabilityRequest({ job: offered }) },
      }),
    );
    const res = await answer;
    if (res === 'closed' || res === 'timeout') return res;
    if (res.terminate) {
      rec.statuses.push({ status: JobStatus.JS_SUCCESS, error: '', by: 'server' });
      return 'terminate';
    }
    if (!res.available) return 'declined';
    if (!c.open) return 'closed';
    offered.state.participantIdentity = res.participantIdentity;
    const token = await buildAgentToken(c, offered, res);
    // An assignment carries the job and the token, no url ("this server").
    write(
      c,
      new ServerMessage({
        message: { case: 'assignment', value: new JobAssignment({ job: offered, token }) },
      }),
    );
    c.running.set(job.id, offered);
    rec.token = token;
    rec.statuses.push({ status: JobStatus.JS_RUNNING, error: '', by: 'server' });
    return 'accepted';
  };

  /** pkg/service/agentservice.go JobRequest: a decline or a closed worker moves on; a timeout drops the job. */
  const request = async (job: Job): Promise<JobOutcome> => {
    const rec: JobRecord = { job, offers: [], statuses: [], ignored: [] };
    jobs.set(job.id, rec);
    const k = `${job.agentName}\u0000${job.namespace}\u0000${job.type}\u0000${job.deployment}`;
    const attempted = new Set<Conn>();
    for (;;) {
      const c = selectWorker(k, attempted);
      if (!c) {
        const anyone = registered().some((w) => key(w) === k);
        return { ok: false, job, reason: attempted.size > 0 || anyone ? 'declined_by_all' : 'no_worker' };
      }
      attempted.add(c);
      const workerId = c.workerId as string;
      const answer = await assignJob(c, job, rec);
      rec.offers.push({ workerId, answer });
      if (answer === 'accepted') {
        rec.workerId = workerId;
        jobToWorker.set(job.id, c);
        return { ok: true, job, workerId, token: rec.token as string };
      }
      if (answer === 'terminate') return { ok: true, job, workerId, terminated: true };
      // Only ErrWorkerNotAvailable and ErrWorkerClosed are retried; a timeout ends the request.
      if (answer === 'timeout') return { ok: false, job, reason: 'timeout' };
    }
  };

  /**
   * pkg/agent/client.go LaunchJob: an explicit dispatch reaches only a registered agentName; either
   * way one job is requested per registered namespace (automatic dispatch's backward compatibility).
   */
  const dispatch = async (req: DispatchRequest): Promise<JobOutcome[]> => {
    const live = registered();
    const agentName = req.agentName ?? '';
    if (!live.some((c) => c.reg?.type === JobType.JT_ROOM)) return [];
    if (agentName !== '' && !live.some((c) => c.reg?.agentName === agentName)) return [];
    const namespaces = [...new Set(live.map((c) => c.reg?.namespace ?? ''))].sort();
    const room = new Room({
      sid: `RM_${randomBytes(6).toString('hex')}`,
      name: req.room,
      metadata: req.roomMetadata ?? '',
    });
    const dispatchId = `AD_${randomBytes(6).toString('hex')}`;
    return Promise.all(
      namespaces.map((namespace) =>
        request(
          new Job({
            id: `AJ_${randomBytes(6).toString('hex')}`,
            dispatchId,
            type: JobType.JT_ROOM,
            room,
            namespace,
            agentName,
            metadata: req.metadata ?? '',
            deployment: req.deployment ?? '',
          }),
        ),
      ),
    );
  };

  /** pkg/service/agentservice.go JobTerminate → pkg/agent/worker.go TerminateJob. */
  const terminate = (jobId: string, reason: 'requested' | 'agent_left_room' = 'requested'): boolean => {
    const c = jobToWorker.get(jobId);
    if (!c?.running.has(jobId)) return false; // no worker for jobID / ErrJobNotFound
    // Only the connection that holds the job hears of it.
    write(c, new ServerMessage({ message: { case: 'termination', value: new JobTermination({ jobId }) } }));
    // The server closes the job itself: later worker updates for it are ignored.
    updateJob(
      c,
      reason === 'agent_left_room'
        ? { jobId, status: JobStatus.JS_FAILED, error: 'agent worker left the room' }
        : { jobId, status: JobStatus.JS_SUCCESS, error: '' },
      'server',
    );
    return true;
  };

  const onAgentSocket = async (
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    attempt: AgentSocketAttempt,
  ) => {
    const refuse = (status: string, reason: string) => {
      attempt.reason = reason;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    // pkg/service/agentservice.go AgentSocketUpgrader.Upgrade: a claim with the agent grant.
    const jwt = attempt.authorization?.match(/^Bearer (.+)$/)?.[1];
    if (!jwt) return refuse('401 Unauthorized', 'no bearer token');
    try {
      const claims = await verifier.verify(jwt);
      if (!claims.video?.agent) return refuse('401 Unauthorized', 'no agent grant');
    } catch (err) {
      return refuse('401 Unauthorized', `bad token: ${(err as Error).message}`);
    }
    attempt.accepted = true;
    wss.handleUpgrade(req, socket, head, (ws) => {
      connCount += 1;
      const c: Conn = {
        n: connCount,
        ws,
        status: WorkerStatus.WS_AVAILABLE,
        load: 0,
        running: new Map(),
        pending: new Map(),
        open: true,
      };
      conns.push(c);
      // pkg/service/agentservice.go HandshakeAgentWorker: the read deadline is RegisterTimeout.
      const deadline = setTimeout(() => {
        if (!c.reg) closeConn(c, `no register within ${registerTimeoutMs} ms`);
      }, registerTimeoutMs);
      ws.on('close', () => {
        clearTimeout(deadline);
        deregister(c);
      });
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => {
        if (!c.open) return;
        if (!isBinary) return closeConn(c, 'text frame');
        let msg: WorkerMessage;
        try {
          msg = WorkerMessage.fromBinary(new Uint8Array(data as Buffer));
        } catch {
          return closeConn(c, 'undecodable WorkerMessage');
        }
        received.push(msg);
        log.push({ conn: c.n, msg });
        onWorkerMessage(c, msg);
      });
    });
  };

  /** Where the agent joins its room: recorded, then left hanging or reset (this double runs no rooms). */
  const onRoomJoin = async (join: RoomJoin, socket: Duplex) => {
    joins.push(join);
    rtcSockets.add(socket);
    socket.on('close', () => rtcSockets.delete(socket));
    socket.on('error', () => {});
    const jwt = join.authorization?.match(/^Bearer (.+)$/)?.[1];
    if (jwt) {
      try {
        const claims = await verifier.verify(jwt);
        join.identity = claims.sub;
        join.room = claims.video?.room;
      } catch {}
    }
    if (double.roomJoins === 'reset') socket.destroy();
  };

  const listen = async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://double').pathname;
      if (path.startsWith('/rtc')) {
        void onRoomJoin({ path, authorization: req.headers.authorization }, req.socket);
        return;
      }
      res.writeHead(404).end();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(req.url ?? '/', 'http://double').pathname;
      const authorization = req.headers.authorization;
      if (path.startsWith('/rtc')) {
        void onRoomJoin({ path, authorization }, socket);
        return;
      }
      const attempt: AgentSocketAttempt = { path, authorization, accepted: false };
      attempts.push(attempt);
      if (path !== '/agent') {
        attempt.reason = `path ${path}`;
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      void onAgentSocket(req, socket, head, attempt);
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    // A listen that fails (the port taken meanwhile) rejects, rather than leaving the test waiting.
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => {
        server?.off('error', reject);
        resolve();
      });
    });
    port = (server.address() as { port: number }).port;
  };
  const dropConnections = () => {
    for (const c of conns) {
      if (!c.open) continue;
      c.closedBecause ??= 'dropped by the test';
      c.ws.terminate();
      deregister(c);
    }
  };
  const close = async () => {
    dropConnections();
    for (const s of rtcSockets) s.destroy();
    rtcSockets.clear();
    // server.close() waits for every connection to end: one still in its handshake (a dispatcher
    // reconnecting at that moment, which a busy machine makes likely) kept a restart waiting for
    // ever. So every accepted socket ends first.
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    server?.closeAllConnections();
    await closed;
  };
  await listen();

  const all = <C extends Case>(kind: C, conn?: number) =>
    log
      .filter((e) => e.msg.message.case === kind && (conn === undefined || e.conn === conn))
      .map((e) => e.msg.message.value as ValueOf<C>);
  const view = (c: Conn): WorkerView => ({
    conn: c.n,
    ...(c.workerId ? { workerId: c.workerId } : {}),
    agentName: c.reg?.agentName ?? '',
    namespace: c.reg?.namespace ?? '',
    deployment: c.reg?.deployment ?? '',
    jobType: c.reg?.type ?? JobType.JT_ROOM,
    version: c.reg?.version ?? '',
    status: c.status,
    load: c.load,
    running: [...c.running.keys()],
    open: c.open,
    ...(c.closedBecause ? { closedBecause: c.closedBecause } : {}),
  });

  return {
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    apiKey,
    apiSecret,
    received,
    log,
    attempts,
    joins,
    get roomJoins() {
      return double.roomJoins;
    },
    set roomJoins(v) {
      double.roomJoins = v;
    },
    all,
    next<C extends Case>(kind: C, match: (v: ValueOf<C>) => boolean = () => true, timeoutMs = 20_000) {
      const found = (): unknown => all(kind).find(match);
      return waitFor(`a ${kind} message from the dispatcher`, found, timeoutMs, 20) as Promise<ValueOf<C>>;
    },
    workers: () => conns.map(view),
    worker(agentName, namespace) {
      const c = registered().find(
        (x) => x.reg?.agentName === agentName && (namespace === undefined || x.reg?.namespace === namespace),
      );
      return c ? view(c) : undefined;
    },
    dispatch,
    request,
    job: (jobId) => jobs.get(jobId),
    terminate,
    dropConnections,
    async restart() {
      await close();
      await listen();
    },
    stop: close,
  };
}

/** pkg/agent/worker.go HandleRegister: the permissions a registration without any gets. */
function defaultPermissions(): ParticipantPermission {
  return new ParticipantPermission({
    canSubscribe: true,
    canPublish: true,
    canPublishData: true,
    canUpdateMetadata: true,
  });
}

/** A LiveKit room job as livekit-server builds it (JT_ROOM, room not yet joined by the agent). */
export function roomJob(
  room: string,
  opts: {
    metadata?: string;
    roomMetadata?: string;
    agentName?: string;
    namespace?: string;
    deployment?: string;
  } = {},
) {
  return new Job({
    id: `AJ_${randomBytes(6).toString('hex')}`,
    dispatchId: `AD_${randomBytes(6).toString('hex')}`,
    type: JobType.JT_ROOM,
    room: new Room({
      sid: `RM_${randomBytes(6).toString('hex')}`,
      name: room,
      metadata: opts.roomMetadata ?? '',
    }),
    metadata: opts.metadata ?? '',
    agentName: opts.agentName ?? '',
    namespace: opts.namespace ?? '',
    deployment: opts.deployment ?? '',
    state: new JobState({ status: JobStatus.JS_RUNNING, startedAt: BigInt(Date.now()) * 1_000_000n }),
  });
}

/**
 * A scripted agent worker for the double (another worker beside the pool): it registers, reports
 * status and load when told, answers availability with `answer`, and records what it receives.
 */
export async function connectScriptedWorker(
  double: LiveKitServerDouble,
  opts: {
    agentName?: string;
    namespace?: string;
    deployment?: string;
    answer?: (job: Job) => boolean;
    /** Skip registering (to test the handshake). */
    register?: boolean;
  } = {},
) {
  const token = new AccessToken(double.apiKey, double.apiSecret, { ttl: '10m' });
  token.addGrant({ agent: true });
  const ws = new WebSocket(`${double.url}/agent`, {
    headers: { Authorization: `Bearer ${await token.toJwt()}` },
  });
  const messages: ServerMessage[] = [];
  let closed: { code: number; reason: string } | undefined;
  const send = (message: WorkerMessage['message']) => ws.send(new WorkerMessage({ message }).toBinary());
  ws.on('message', (data) => {
    const msg = ServerMessage.fromBinary(new Uint8Array(data as Buffer));
    messages.push(msg);
    const m = msg.message;
    if (m.case === 'availability' && m.value.job) {
      const job = m.value.job;
      const yes = (opts.answer ?? (() => true))(job);
      send({
        case: 'availability',
        value: new AvailabilityResponse({
          jobId: job.id,
          available: yes,
          ...(yes ? { participantIdentity: `scripted-${job.id}`, participantName: 'scripted' } : {}),
        }),
      });
    }
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: reason.toString() };
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (opts.register !== false) {
    send({
      case: 'register',
      value: new RegisterWorkerRequest({
        type: JobType.JT_ROOM,
        agentName: opts.agentName ?? '',
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        deployment: opts.deployment ?? '',
        version: 'scripted',
      }),
    });
    await waitFor('the scripted worker registration', () =>
      messages.find((m) => m.message.case === 'register'),
    );
  }
  return {
    ws,
    messages,
    get closed() {
      return closed;
    },
    send,
    of<C extends NonNullable<ServerMessage['message']['case']>>(kind: C) {
      return messages
        .filter((m) => m.message.case === kind)
        .map((m) => m.message.value as Extract<ServerMessage['message'], { case: C }>['value']);
    },
    update(load: number, status: WorkerStatus = WorkerStatus.WS_AVAILABLE) {
      send({ case: 'updateWorker', value: new UpdateWorkerStatus({ load, status }) });
    },
    close() {
      ws.close();
    },
  };
}

/** A loopback URL nothing listens on: a room join there is refused at once. */
export async function closedPortUrl(): Promise<string> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `ws://127.0.0.1:${port}`;
}
