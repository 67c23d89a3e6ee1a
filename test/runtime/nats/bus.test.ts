import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Message, subjects } from '../../../src/protocol/index.ts';
import { Bus, RequestFailedError } from '../../../src/runtime/nats/bus.ts';
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
    await b.nc.flush();
    a.publish(
      s.events('w1'),
      a.make('session.state', { session: 's1', worker: 'w1', epoch: 'e1', state: 'active', seq: 4 }),
    );
    await a.nc.flush();
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]).toMatchObject({ type: 'session.state', from: 'w1', session: 's1', seq: 4 });
    sub.unsubscribe();
  });

  it('answers garbage on a request subject with an error reply naming the reason, and counts it', async () => {
    const sub = b.subscribe(s.dispatch, () => {
      throw new Error('handler must not run for garbage');
    });
    await b.nc.flush();
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
      return b.make('ack', { ref: m.id });
    });
    await b.nc.flush();
    const err = await a.request(s.status, a.make('status', {}), 2000).catch((e) => e);
    expect(err).toBeInstanceOf(RequestFailedError);
    expect((err as RequestFailedError).error).toEqual({ code: 'internal', message: 'boom' });
    const ok = await a.request(s.status, a.make('status', {}), 2000);
    expect(ok.type).toBe('ack');
    sub.unsubscribe();
  });

  it('a request nobody answers fails fast with a clear error', async () => {
    const err = await a
      .request(s.workerCmd('ghost'), a.make('drain', { timeoutMs: 1 }), 2000)
      .catch((e) => e);
    expect(err).toBeInstanceOf(RequestFailedError);
    expect((err as RequestFailedError).message).toContain(s.workerCmd('ghost'));
  });
});
