import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AvailabilityRequest,
  type AvailabilityResponse,
  Job,
  JobAssignment,
  JobState,
  JobStatus,
  JobTermination,
  JobType,
  RegisterWorkerResponse,
  Room,
  ServerInfo,
  ServerInfo_Edition,
  ServerMessage,
  WorkerMessage,
} from '@livekit/protocol';
import { AccessToken, TokenVerifier } from 'livekit-server-sdk';
import { type WebSocket, WebSocketServer } from 'ws';
import { waitFor } from './wait.ts';

type Case = NonNullable<WorkerMessage['message']['case']>;
type ValueOf<C extends Case> = Extract<WorkerMessage['message'], { case: C }>['value'];

export interface AgentSocketAttempt {
  path: string;
  authorization: string | undefined;
  /** Accepted: the path was /agent and the bearer JWT verified with the agent grant. */
  accepted: boolean;
  reason?: string;
}

/**
 * A protocol-level double of a LiveKit server's agent endpoint: a WebSocket server on `/agent`
 * that checks the bearer JWT (signature and agent grant) as LiveKit does, decodes every frame as
 * a `WorkerMessage` and sends `ServerMessage`s, both with @livekit/protocol's generated classes.
 * It answers `register` the way livekit-server does; jobs are offered, assigned and terminated by
 * the test. It runs no rooms (see `startSignalSink` for where a worker's room join goes).
 */
export interface LiveKitServerDouble {
  /** ws://127.0.0.1:<port> (the same port across restarts). */
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Every WorkerMessage received, decoded, in order. */
  readonly received: WorkerMessage[];
  readonly attempts: AgentSocketAttempt[];
  /** Waits for a received message of this kind that satisfies `match`; returns its value. */
  next<C extends Case>(kind: C, match?: (v: ValueOf<C>) => boolean, timeoutMs?: number): Promise<ValueOf<C>>;
  /** Every received message of this kind. */
  all<C extends Case>(kind: C): ValueOf<C>[];
  /** Sends an AvailabilityRequest and resolves with the worker's answer for that job. */
  offer(job: Job, timeoutMs?: number): Promise<AvailabilityResponse>;
  /** Sends a JobAssignment (url omitted when undefined, as livekit-server does). */
  assign(job: Job, token: string, url?: string): void;
  terminate(jobId: string): void;
  /** Stops listening and drops every connection, then listens again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLiveKitServerDouble(
  opts: { apiKey?: string; apiSecret?: string } = {},
): Promise<LiveKitServerDouble> {
  const apiKey = opts.apiKey ?? 'APItestkey';
  const apiSecret = opts.apiSecret ?? randomBytes(24).toString('hex');
  const verifier = new TokenVerifier(apiKey, apiSecret);
  const received: WorkerMessage[] = [];
  const attempts: AgentSocketAttempt[] = [];
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  let server: Server | undefined;
  let port = 0;

  const send = (msg: ServerMessage) => {
    const bytes = msg.toBinary();
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(bytes);
  };

  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://double').pathname;
    const authorization = req.headers.authorization;
    const attempt: AgentSocketAttempt = { path, authorization, accepted: false };
    attempts.push(attempt);
    const refuse = (status: string, reason: string) => {
      attempt.reason = reason;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (path !== '/agent') return refuse('404 Not Found', `path ${path}`);
    const jwt = authorization?.match(/^Bearer (.+)$/)?.[1];
    if (!jwt) return refuse('401 Unauthorized', 'no bearer token');
    try {
      const claims = await verifier.verify(jwt);
      if (!claims.video?.agent) return refuse('401 Unauthorized', 'no agent grant');
    } catch (err) {
      return refuse('401 Unauthorized', `bad token: ${(err as Error).message}`);
    }
    attempt.accepted = true;
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        const msg = WorkerMessage.fromBinary(new Uint8Array(data as Buffer));
        received.push(msg);
        if (msg.message.case === 'register') {
          // As livekit-server: a fresh worker id per registration, and the server's info.
          const reply = new ServerMessage({
            message: {
              case: 'register',
              value: new RegisterWorkerResponse({
                workerId: `AW_${randomBytes(6).toString('hex')}`,
                serverInfo: new ServerInfo({
                  edition: ServerInfo_Edition.Standard,
                  version: 'double',
                  agentProtocol: 1,
                }),
              }),
            },
          });
          ws.send(reply.toBinary());
        }
      });
    });
  };

  const listen = async () => {
    server = createServer((_, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket, head) => void onUpgrade(req, socket, head));
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  const close = async () => {
    for (const ws of sockets) ws.terminate();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server?.closeAllConnections();
  };
  await listen();

  const all = <C extends Case>(kind: C) =>
    received.filter((m) => m.message.case === kind).map((m) => m.message.value as ValueOf<C>);

  return {
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    apiKey,
    apiSecret,
    received,
    attempts,
    all,
    next<C extends Case>(kind: C, match: (v: ValueOf<C>) => boolean = () => true, timeoutMs = 20_000) {
      const found = (): unknown => all(kind).find(match);
      return waitFor(`a ${kind} message from the dispatcher`, found, timeoutMs, 20) as Promise<ValueOf<C>>;
    },
    async offer(job, timeoutMs = 10_000) {
      const before = all('availability').length;
      send(new ServerMessage({ message: { case: 'availability', value: new AvailabilityRequest({ job }) } }));
      return waitFor(
        `the availability answer for ${job.id}`,
        () =>
          all('availability')
            .slice(before)
            .find((a) => a.jobId === job.id),
        timeoutMs,
        20,
      );
    },
    assign(job, token, url) {
      const value = new JobAssignment({ job, token, ...(url !== undefined ? { url } : {}) });
      send(new ServerMessage({ message: { case: 'assignment', value } }));
    },
    terminate(jobId) {
      send(new ServerMessage({ message: { case: 'termination', value: new JobTermination({ jobId }) } }));
    },
    async restart() {
      await close();
      await listen();
    },
    stop: close,
  };
}

/** A LiveKit room job as livekit-server offers it (JT_ROOM, room not yet joined by the agent). */
export function roomJob(
  room: string,
  opts: { metadata?: string; roomMetadata?: string; agentName?: string } = {},
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
    state: new JobState({ status: JobStatus.JS_RUNNING, startedAt: BigInt(Date.now()) * 1_000_000n }),
  });
}

/** The token livekit-server would mint for the agent participant of a job. */
export function agentRoomToken(double: LiveKitServerDouble, job: Job): Promise<string> {
  const token = new AccessToken(double.apiKey, double.apiSecret, { identity: `agent-${job.id}` });
  token.addGrant({ roomJoin: true, room: job.room?.name ?? '', agent: true });
  return token.toJwt();
}

export interface SignalRequest {
  path: string;
  authorization: string | undefined;
}

/**
 * Where a worker's room join lands: a TCP server that records each HTTP request (path and the
 * Authorization header rtc-node sends the job token in) and never answers, so the join hangs in
 * `connecting` until it is cancelled or times out.
 */
export async function startSignalSink(): Promise<{
  url: string;
  requests: SignalRequest[];
  stop(): Promise<void>;
}> {
  const requests: SignalRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const [line = '', ...headers] = head.split('\r\n');
      const auth = headers.find((h) => h.toLowerCase().startsWith('authorization:'));
      requests.push({
        path: line.split(' ')[1]?.split('?')[0] ?? '',
        authorization: auth?.slice(auth.indexOf(':') + 1).trim(),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
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
