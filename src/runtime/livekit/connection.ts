import type { ServerMessage, WorkerMessage } from '@livekit/protocol';
import WebSocket from 'ws';
import { exponentialBackoff } from '../../actors/backoff.ts';
import type { Logger } from '../logger.ts';
import { agentJwt, agentSocketUrl, decodeServerMessage, encodeWorkerMessage } from './wire.ts';

export interface AgentConnectionOptions {
  url: string;
  apiKey: string;
  apiSecret: string;
  log: Logger;
  reconnect: { initialMs: number; maxMs: number };
  pingIntervalMs: number;
  /** A new socket is open: register on it. */
  onOpen(): void;
  onMessage(msg: ServerMessage): void;
  /** The open socket closed (a reconnect is already scheduled unless closing). */
  onClose(reason: string): void;
}

/**
 * The agent worker's WebSocket to `<url>/agent`, kept open: a fresh agent JWT per attempt, protobuf
 * frames both ways, WebSocket pings to notice a dead link, and reconnects with exponential backoff
 * (reset once the server has accepted a registration, see `healthy`).
 */
export class AgentConnection {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: AgentConnectionOptions) {}

  /** Opens the first connection; later ones follow by themselves until `close`. */
  start(): void {
    void this.open();
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a message if the socket is open; false when it is not (the message is dropped). */
  send(msg: WorkerMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(encodeWorkerMessage(msg));
    return true;
  }

  /** The server accepted us: the next disconnect starts the backoff from the beginning. */
  healthy(): void {
    this.attempt = 0;
  }

  /** Drops the current socket (a reconnect follows), e.g. when registration times out. */
  drop(reason: string): void {
    this.o.log.warn({ reason }, 'dropping the LiveKit agent connection');
    this.ws?.terminate();
  }

  /** Closes for good: no reconnect. Resolves once the socket is closed (at most ~2 s). */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'worker shutting down');
    });
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { log } = this.o;
    let target: URL;
    let jwt: string;
    try {
      target = agentSocketUrl(this.o.url);
      jwt = await agentJwt(this.o.apiKey, this.o.apiSecret);
    } catch (err) {
      log.error({ err: String(err) }, 'cannot connect to LiveKit');
      this.retry(String(err));
      return;
    }
    if (this.stopped) return;
    const ws = new WebSocket(target, {
      headers: { Authorization: `Bearer ${jwt}` },
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    let opened = false;
    let lastError = '';
    let alive = true;
    ws.on('open', () => {
      opened = true;
      log.info({ url: target.href }, 'connected to LiveKit');
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (!alive) {
          lastError = `no pong within ${this.o.pingIntervalMs} ms`;
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, this.o.pingIntervalMs);
      this.pingTimer.unref();
      this.o.onOpen();
    });
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('message', (data, isBinary) => {
      alive = true;
      let msg: ServerMessage;
      try {
        msg = decodeServerMessage(data, isBinary);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'ignored a frame from LiveKit');
        return;
      }
      this.o.onMessage(msg);
    });
    ws.on('error', (err) => {
      lastError = err.message;
    });
    ws.on('close', (code, reasonBytes) => {
      if (this.ws === ws) this.ws = undefined;
      clearInterval(this.pingTimer);
      const reason = lastError || `closed with code ${code}${reasonBytes.length ? `: ${reasonBytes}` : ''}`;
      if (opened) this.o.onClose(reason);
      this.retry(reason);
    });
  }

  private retry(reason: string): void {
    if (this.stopped) return;
    this.attempt += 1;
    const { initialMs, maxMs } = this.o.reconnect;
    const delay = exponentialBackoff(
      this.attempt,
      { initialMs, maxMs, factor: 2, jitter: 0.3 },
      Math.random(),
    );
    this.o.log.warn(
      { attempt: this.attempt, delayMs: delay, reason },
      'LiveKit agent connection lost or refused; reconnecting',
    );
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), delay);
    this.retryTimer.unref();
  }
}
