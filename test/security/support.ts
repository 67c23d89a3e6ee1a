import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  PermissionViolationError,
} from '@nats-io/transport-node';
import { afterAll } from 'vitest';
import { type RunningNatsServer, startNatsServer } from '../../src/runtime/nats/server.ts';

/** A temp folder for this test file's keys, certs and configs; removed after the file. */
export function useTempDir(): {
  path: (name: string) => string;
  write: (name: string, text: string) => string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'openrtc-security-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);
  return {
    path,
    write: (name, text) => {
      writeFileSync(path(name), text, { mode: 0o600 });
      return path(name);
    },
  };
}

/** Starts a real nats-server with this config text (no JetStream: these tests need none). */
export async function startServerWithConfig(configFile: string): Promise<RunningNatsServer> {
  return startNatsServer({ configFile, jetstream: false });
}

/** Connects without reconnecting, so a refused connection fails at once. */
export function connectTo(url: string, opts: Partial<NodeConnectionOptions> = {}): Promise<NatsConnection> {
  return connect({ servers: url, reconnect: false, timeout: 5000, ...opts });
}

/**
 * Collects the permission errors nats-server sends this connection (its async `-ERR`s, which
 * nats.js reports through `status()`), so a test can wait for one.
 */
export function permissionErrors(nc: NatsConnection) {
  const seen: PermissionViolationError[] = [];
  const waiters: Array<() => void> = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof PermissionViolationError) {
        seen.push(s.error);
        for (const w of waiters.splice(0)) w();
      }
    }
  })();
  return {
    seen,
    /** Resolves with the first error on this subject (waits up to 5 s). */
    async next(subject: string): Promise<PermissionViolationError> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = seen.find((e) => e.subject === subject);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no permission error for ${subject} within 5 s`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

/** Subscribes and records what arrives (subject and text). */
export function record(nc: NatsConnection, subject: string) {
  const got: Array<{ subject: string; data: string }> = [];
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (!err) got.push({ subject: msg.subject, data: msg.string() });
    },
  });
  return { got, sub };
}

/**
 * Subscribes and returns why the server closed the subscription, or null if it did not: the
 * server's -ERR comes before its PONG, so after a flush the answer is known.
 */
export async function refusedSubscription(nc: NatsConnection, subject: string): Promise<Error | null> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  if (!sub.isClosed()) {
    sub.unsubscribe();
    return null;
  }
  return (await sub.closed) ?? null;
}
