import { connect, errors as natsErrors } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Message,
  type MessageOf,
  ProtocolError,
  subjects,
  toErrorData,
} from '../../../src/protocol/index.ts';
import {
  Bus,
  ErrorReplyError,
  InvalidMessageError,
  NatsUnavailableError,
  NoRespondersError,
  RequestFailedError,
  RequestTimeoutError,
} from '../../../src/runtime/nats/bus.ts';
import { startNatsServer } from '../../../src/runtime/nats/server.ts';
import { captureLog } from '../../support/log.ts';
import { useNatsServer } from '../../support/nats.ts';

const nats = useNatsServer();
const s = subjects('bustest');

describe('Bus', () => {
  let a: Bus;
  let b: Bus;
  const logB = captureLog();
  beforeAll(async () => {
    a = await Bus.connect({ url: nats.url, name: 'a', self: 'w1', log: captureLog().log });
    b = await Bus.connect({ url: nats.url, name: 'b', self: 'supervisor', log: logB.log });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('delivers a valid message decoded and typed', async () => {
    const got: Message[] = [];
    const sub = b.subscribe(s.eventsAll, (m) => {
      got.push(m);
    });
    await b.flush();
    a.publish(
      s.events('w1'),
      a.make('session.state', { session: 's1', worker: 'w1', epoch: 'e1', state: 'active', seq: 4 }),
    );
    await a.flush();
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]).toMatchObject({ type: 'session.state', from: 'w1', session: 's1', seq: 4 });
    sub.unsubscribe();
  });

  it('answers garbage on a request subject with an error reply naming the reason, and counts it', async () => {
    const sub = b.subscribe(s.dispatch, () => {
      throw new Error('handler must not run for garbage');
    });
    await b.flush();
    const raw = await connect({ servers: nats.url });
    const reply = await raw.request(s.dispatch, '{not json', { timeout: 2000 });
    expect(reply.json()).toMatchObject({
      type: 'error',
      error: { code: 'invalid_message', details: { reason: 'invalid_json' } },
    });
    const wrong = await raw.request(
      s.dispatch,
      JSON.stringify({ v: 1, id: 'x', ts: 1, from: 'c', type: 'dispatch', agent: 7 }),
      { timeout: 2000 },
    );
    expect(wrong.json()).toMatchObject({ error: { details: { reason: 'invalid_fields', path: 'agent' } } });
    expect(b.rejected.invalid_json).toBe(1);
    expect(b.rejected.invalid_fields).toBe(1);
    expect(logB.lines.some((l) => l.reason === 'invalid_json' && l.subject === s.dispatch)).toBe(true);
    await raw.close();
    sub.unsubscribe();
  });

  it('a handler that throws answers with an error reply and the subscription keeps serving', async () => {
    let calls = 0;
    const sub = b.subscribe(s.status, (m) => {
      calls++;
      if (calls === 1) throw new Error('boom');
      return b.make('status.ok', statusOk(m.id));
    });
    await b.flush();
    const err = await a.request(s.status, a.make('status', {}), 2000).catch((e) => e);
    expect(err).toBeInstanceOf(ErrorReplyError);
    expect((err as ErrorReplyError).error).toEqual({ code: 'internal', message: 'boom' });
    const ok = await a.request(s.status, a.make('status', {}), 2000);
    expect(ok.type).toBe('status.ok');
    expect(ok.pool).toBe('bustest'); // typed as the reply to 'status': no cast
    sub.unsubscribe();
  });

  it('a request nobody listens to fails fast as a NoRespondersError naming the operation and subject', async () => {
    const subject = s.workerCmd('ghost');
    const started = Date.now();
    const err = await a.request(subject, a.make('drain', { timeoutMs: 1 }), 10_000).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(NoRespondersError);
    expect(err).toBeInstanceOf(RequestFailedError);
    expect(err).toMatchObject({ operation: 'drain', subject, error: { code: 'no_responders' } });
    expect((err as Error).message).toContain(subject);
    expect(toErrorData(err)).toEqual((err as RequestFailedError).error); // its wire form, unchanged
    // The nats.js error is kept as the cause: a RequestError wrapping nats.js's own NoRespondersError.
    expect((err as Error).cause).toBeInstanceOf(natsErrors.RequestError);
    expect(((err as Error).cause as Error).cause).toBeInstanceOf(natsErrors.NoRespondersError);
  });

  it('a request that is heard but never answered fails as a RequestTimeoutError after its timeout', async () => {
    const heard: string[] = [];
    const sub = b.subscribe(s.history, (m) => {
      heard.push(m.type); // and no reply
    });
    await b.flush();
    const err = await a.request(s.history, a.make('history', { session: 's1' }), 300).catch((e) => e);
    expect(heard).toEqual(['history']);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toBeInstanceOf(RequestFailedError);
    expect(err).not.toBeInstanceOf(NoRespondersError);
    expect(err).toMatchObject({
      operation: 'history',
      subject: s.history,
      timeoutMs: 300,
      error: { code: 'timeout', message: `no reply on ${s.history} within 300 ms` },
    });
    expect((err as Error).cause).toBeInstanceOf(natsErrors.TimeoutError);
    sub.unsubscribe();
  });

  it('a reply that does not answer the request type is refused as an InvalidMessageError and counted', async () => {
    const sub = b.subscribe(s.dispatch, (m) => b.make('ack', { ref: m.id }));
    await b.flush();
    const before = a.rejected.wrong_subject ?? 0;
    const err = await a.request(s.dispatch, a.make('dispatch', { agent: 'x' }), 2000).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidMessageError);
    expect(err).toMatchObject({ operation: 'dispatch', error: { code: 'invalid_message' } });
    expect((err as RequestFailedError).error.message).toContain('ack does not answer dispatch');
    expect(a.rejected.wrong_subject).toBe(before + 1);
    sub.unsubscribe();
  });
});

describe('Bus: while its NATS link is down', () => {
  it('a request fails at once as a NatsUnavailableError, unsent, and requests work again after the reconnect', async () => {
    const server = await startNatsServer(); // its own: this test stops it
    const bus = await Bus.connect({ url: server.url, name: 'down', self: 'w1', log: captureLog().log });
    const responder = await Bus.connect({
      url: server.url,
      name: 'up',
      self: 'supervisor',
      log: captureLog().log,
    });
    try {
      let asked = 0;
      responder.subscribe(s.status, (m) => {
        asked++;
        return responder.make('status.ok', statusOk(m.id));
      });
      await responder.flush();
      const links: boolean[] = [];
      bus.onLink((up) => links.push(up));

      await server.pause();
      await expect.poll(() => bus.connected, { timeout: 10_000 }).toBe(false);
      const started = Date.now();
      const err = await bus.request(s.status, bus.make('status', {}), 20_000).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(5000); // not the 20 s timeout
      expect(err).toBeInstanceOf(NatsUnavailableError);
      expect(err).toMatchObject({
        operation: 'status',
        subject: s.status,
        error: { code: 'nats_unavailable' },
      });

      await server.start();
      await expect
        .poll(() => bus.connected && responder.connected && links.length === 2, { timeout: 15_000 })
        .toBe(true);
      await responder.flush();
      expect((await bus.request(s.status, bus.make('status', {}), 5000)).type).toBe('status.ok');
      expect(asked).toBe(1); // the request made while down never arrived
      expect(links).toEqual([false, true]);
    } finally {
      await Promise.all([bus.close(), responder.close()]);
      await server.stop();
    }
  });
});

describe('Bus: a message that does not encode is never sent, always counted', () => {
  const log = captureLog();
  let lenient: Bus;
  let strict: Bus;
  let listener: Bus;
  beforeAll(async () => {
    lenient = await Bus.connect({ url: nats.url, name: 'lenient', self: 'w1', log: log.log, strict: false });
    strict = await Bus.connect({ url: nats.url, name: 'strict', self: 'w1', log: captureLog().log });
    listener = await Bus.connect({
      url: nats.url,
      name: 'listener',
      self: 'supervisor',
      log: captureLog().log,
    });
  });
  afterAll(async () => {
    await Promise.all([lenient.close(), strict.close(), listener.close()]);
  });

  /** A heartbeat with a function in it: not plain data, so the codec refuses it. */
  const unencodable = (bus: Bus) =>
    ({
      ...bus.make('heartbeat', {
        worker: 'w1',
        epoch: 'e1',
        state: 'ready',
        active: 0,
        capacity: 1,
        rssBytes: 0,
        prewarm: { status: 'ok' },
        sessions: [],
      }),
      rssBytes: (() => 0) as unknown as number,
    }) as Message;

  it('outside tests: the publish is dropped, counted as encode_failed and logged with its type', async () => {
    const got: Message[] = [];
    const sub = listener.subscribe(s.eventsAll, (m) => {
      got.push(m);
    });
    await listener.flush();
    lenient.publish(s.events('w1'), unencodable(lenient));
    lenient.publish(
      s.events('w1'),
      lenient.make('worker.state', { worker: 'w1', epoch: 'e1', state: 'ready' }),
    );
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]?.type).toBe('worker.state');
    expect(lenient.rejected.encode_failed).toBe(1);
    const line = log.lines.find((l) => l.msg === 'message not sent: it does not encode');
    expect(line).toMatchObject({
      subject: s.events('w1'),
      type: 'heartbeat',
      err: { code: 'invalid_message' },
    });
    sub.unsubscribe();
  });

  it('under vitest (strict by default): the publish throws the ProtocolError naming the path', () => {
    let thrown: unknown;
    try {
      strict.publish(s.events('w1'), unencodable(strict));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect(thrown).toMatchObject({ reason: 'not_plain_data', context: { path: 'rssBytes' } });
    expect(strict.rejected.encode_failed).toBe(1);
  });

  it('a request that does not encode is not sent: it fails as an InvalidMessageError and is counted', async () => {
    const bad = { ...lenient.make('dispatch', { agent: 'x' }), agent: 7 } as unknown as MessageOf<'dispatch'>;
    const err = await lenient.request(s.dispatch, bad, 2000).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidMessageError);
    expect(err).toMatchObject({ operation: 'dispatch', error: { details: { reason: 'invalid_fields' } } });
    expect((err as Error).cause).toBeInstanceOf(ProtocolError);
    expect(lenient.rejected.encode_failed).toBe(2);
  });
});

function statusOk(ref: string) {
  return { ref, pool: 'bustest', health: 'ok' as const, workers: [], sessions: [], rejected: {} };
}
