import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  decode,
  encode,
  envelope,
  formatPath,
  MAX_NESTING_DEPTH,
  MESSAGE_SCHEMAS,
  type Message,
  type MessageType,
  ProtocolError,
  subjects,
} from '../../src/protocol/index.ts';

const s = subjects('demo');
const text = (x: unknown) => JSON.stringify(x);

function sessionState(overrides: Record<string, unknown> = {}): Message {
  return {
    ...envelope('session.state', 'worker-01', {
      session: 'sess-1',
      worker: 'worker-01',
      epoch: 'e-1',
      state: 'active',
      seq: 3,
    }),
    ...overrides,
  } as Message;
}

function welcomeWithOptions(options: unknown): Message {
  return envelope('welcome', 'supervisor', {
    ref: 'req-1',
    version: 1,
    pool: 'demo',
    supervisorEpoch: 's-1',
    heartbeatMs: 1000,
    agents: [{ name: 'dental', module: '/srv/dental.ts', options } as never],
  });
}

/** Runs encode and returns the ProtocolError it throws. */
function encodeError(msg: unknown, opts = {}): ProtocolError {
  try {
    encode(msg as Message, opts);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw new Error(`encode threw a ${String(err)} instead of a ProtocolError`);
  }
  throw new Error('encode accepted the message');
}

function decodeError(data: Uint8Array | string, subject: string, opts = {}): ProtocolError {
  const result = decode(data, subject, opts);
  if (result.ok) throw new Error(`decode accepted ${String(data).slice(0, 80)}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  return result.error;
}

describe('encode refuses what is not plain data, naming the path', () => {
  class Tariff {
    constructor(readonly cents = 5) {}
  }
  const cases: [string, unknown, string, RegExp][] = [
    ['a function', { onGreet: () => 'hi' }, 'agents[0].options.onGreet', /a function/],
    [
      'a named function',
      { nested: { handler: function greet() {} } },
      'agents[0].options.nested.handler',
      /function \(greet\)/,
    ],
    ['a Map', { voices: new Map([['a', 1]]) }, 'agents[0].options.voices', /instance of Map/],
    ['a Set', { tools: new Set(['book']) }, 'agents[0].options.tools', /instance of Set/],
    ['a Date', { since: new Date(0) }, 'agents[0].options.since', /instance of Date/],
    ['an Error', { last: new Error('boom') }, 'agents[0].options.last', /instance of Error/],
    ['a custom class instance', { tariff: new Tariff() }, 'agents[0].options.tariff', /instance of Tariff/],
    ['a BigInt', { big: 10n }, 'agents[0].options.big', /BigInt/],
    ['undefined', { gone: undefined }, 'agents[0].options.gone', /undefined/],
    ['NaN', { temperature: Number.NaN }, 'agents[0].options.temperature', /NaN/],
    ['Infinity', { list: [1, Number.POSITIVE_INFINITY] }, 'agents[0].options.list[1]', /Infinity/],
    ['a symbol value', { tag: Symbol('x') }, 'agents[0].options.tag', /symbol/],
    ['a symbol key', { [Symbol('k')]: 1 }, 'agents[0].options', /symbol keys/],
    [
      'a __proto__ key',
      JSON.parse('{"__proto__":{"admin":true}}'),
      'agents[0].options.__proto__',
      /__proto__/,
    ],
  ];
  for (const [what, options, path, detail] of cases) {
    it(`refuses ${what} at ${path}`, () => {
      const err = encodeError(welcomeWithOptions(options));
      expect(err.reason).toBe('not_plain_data');
      expect(err.context).toMatchObject({ messageType: 'welcome', path });
      expect(err.message).toContain(path);
      expect(err.message).toMatch(detail);
    });
  }

  it('refuses a cycle at the path that closes it', () => {
    const options: Record<string, unknown> = { a: { b: {} } };
    (options.a as { b: Record<string, unknown> }).b.back = options;
    const err = encodeError(welcomeWithOptions(options));
    expect(err.reason).toBe('not_plain_data');
    expect(err.context.path).toBe('agents[0].options.a.b.back');
    expect(err.message).toMatch(/cycle/);
  });

  it('accepts the same object twice when it is shared, not cyclic', () => {
    const shared = { speed: 1 };
    const bytes = encode(welcomeWithOptions({ a: shared, b: shared }));
    const result = decode(bytes, '_INBOX.x');
    expect(result.ok && result.message.type === 'welcome' && result.message.agents[0]?.options).toEqual({
      a: { speed: 1 },
      b: { speed: 1 },
    });
  });

  it(`refuses nesting deeper than ${MAX_NESTING_DEPTH} levels with a ProtocolError, not a stack overflow`, () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const err = encodeError(welcomeWithOptions({ deep }));
    expect(err.reason).toBe('not_plain_data');
    expect(err.context.path).toMatch(/^agents\[0\]\.options\.deep(\[0\])+$/);
    expect(err.message).toMatch(/nested deeper than/);
  });

  it('refuses a class instance as the whole message', () => {
    class Hello {
      type = 'hello';
    }
    const err = encodeError(new Hello());
    expect(err.reason).toBe('not_plain_data');
    expect(err.context.path).toBe('(root)');
  });
});

describe('encode checks the schema and the size', () => {
  it('refuses an unknown type', () => {
    const err = encodeError({ ...sessionState(), type: 'session.teleport' });
    expect(err.reason).toBe('unknown_type');
    expect(err.context.path).toBe('type');
  });

  it('refuses a field that breaks its schema, naming type and path', () => {
    const err = encodeError(sessionState({ seq: 0 }));
    expect(err.reason).toBe('invalid_fields');
    expect(err.context).toMatchObject({ messageType: 'session.state', path: 'seq' });
    expect(err.message).toMatch(/session\.state rejected at seq/);
  });

  it(`refuses payloads over the default limit of ${DEFAULT_MAX_PAYLOAD_BYTES} bytes`, () => {
    expect(DEFAULT_MAX_PAYLOAD_BYTES).toBe(512 * 1024);
    const big = welcomeWithOptions({ blob: 'x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES) });
    const err = encodeError(big);
    expect(err.reason).toBe('payload_too_large');
    expect(err.context.messageType).toBe('welcome');
  });

  it('takes a configurable limit', () => {
    const msg = sessionState();
    const size = encode(msg).byteLength;
    expect(encode(msg, { maxPayloadBytes: size }).byteLength).toBe(size);
    expect(encodeError(msg, { maxPayloadBytes: size - 1 }).reason).toBe('payload_too_large');
  });

  it('produces UTF-8 JSON bytes', () => {
    const msg = sessionState({
      state: 'failed',
      failure: { phase: 'connect', code: 'connect_failed', message: 'room café ☕ refused the connection' },
    });
    const bytes = encode(msg);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual(msg);
  });
});

describe('decode never throws and says what, where and on which subject', () => {
  const events = s.events('worker-01');

  it('returns the typed message for valid bytes and for a string', () => {
    const msg = sessionState();
    for (const data of [encode(msg), text(msg)]) {
      const result = decode(data, events);
      expect(result).toEqual({ ok: true, message: msg });
    }
  });

  it('rejects bytes that are not JSON as invalid_json', () => {
    const err = decodeError(new Uint8Array([0x7b, 0xff, 0x00]), events);
    expect(err.reason).toBe('invalid_json');
    expect(err.context.subject).toBe(events);
    expect(err.message).toContain(events);
  });

  it('rejects JSON that is not an object at the root', () => {
    for (const data of ['[1,2]', '"hello"', 'null', '42']) {
      const err = decodeError(data, events);
      expect(err.reason).toBe('invalid_fields');
      expect(err.context.path).toBe('(root)');
    }
  });

  it('rejects an unknown type at path type', () => {
    const err = decodeError(text({ ...sessionState(), type: 'session.teleport' }), events);
    expect(err).toMatchObject({ reason: 'unknown_type', context: { subject: events, path: 'type' } });
  });

  it('rejects names inherited from Object as unknown types, on decode and encode', () => {
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const data = `{"v":1,"id":"x","ts":1,"from":"a","type":${JSON.stringify(type)}}`;
      expect(decodeError(data, events)).toMatchObject({ reason: 'unknown_type', context: { path: 'type' } });
      expect(encodeError(JSON.parse(data)).reason).toBe('unknown_type');
    }
  });

  it('describes a non-string type without serializing it', () => {
    const deep = `${'['.repeat(50_000)}1${']'.repeat(50_000)}`;
    const err = decodeError(`{"v":1,"type":${deep}}`, events);
    expect(err).toMatchObject({ reason: 'unknown_type', context: { path: 'type' } });
    expect(err.message).toMatch(/type must be a string, not an array/);
  });

  it('rejects a missing type at path type', () => {
    const { type: _type, ...rest } = sessionState();
    expect(decodeError(text(rest), events)).toMatchObject({
      reason: 'unknown_type',
      context: { path: 'type' },
    });
  });

  it('rejects a bad field naming subject, message type and field path', () => {
    const err = decodeError(text(sessionState({ state: 'dancing' })), events);
    expect(err.reason).toBe('invalid_fields');
    expect(err.context).toEqual({ subject: events, messageType: 'session.state', path: 'state' });
    expect(err.message).toContain(events);
    expect(err.message).toContain('session.state rejected at state');
  });

  it('names a nested path', () => {
    const msg = envelope('heartbeat', 'worker-01', {
      worker: 'worker-01',
      epoch: 'e-1',
      state: 'ready',
      active: 1,
      capacity: 10,
      rssBytes: 1,
      prewarm: { status: 'ok' },
      sessions: [{ session: 's1', agent: 'dental', state: 'teleporting', seq: 1, since: 0, jobId: 'j1' }],
    } as never);
    const err = decodeError(text(msg), events);
    expect(err.context).toMatchObject({ messageType: 'heartbeat', path: 'sessions[0].state' });
  });

  it('turns the error into wire data with the reason, subject, type and path', () => {
    const err = decodeError(text(sessionState({ seq: -1 })), events);
    expect(err.toData()).toEqual({
      code: 'invalid_message',
      message: err.message,
      details: { reason: 'invalid_fields', subject: events, messageType: 'session.state', path: 'seq' },
    });
  });

  it('refuses a message on a subject that does not carry its type', () => {
    const cmd = s.workerCmd('worker-01');
    const err = decodeError(text(sessionState()), cmd);
    expect(err).toMatchObject({
      reason: 'wrong_subject',
      context: { subject: cmd, messageType: 'session.state', path: 'type' },
    });
  });

  it('refuses a subject that is not ours', () => {
    for (const subject of ['other.demo.dispatch', 'openrtc.demo', 'openrtc.demo.sup.unknown.x', '']) {
      expect(decodeError(text(sessionState()), subject)).toMatchObject({
        reason: 'unknown_subject',
        context: { subject },
      });
    }
  });

  it('accepts replies on any reply inbox', () => {
    const ack = envelope('ack', 'worker-01', { ref: 'req-1' });
    expect(decode(text(ack), '_INBOX.abc.1').ok).toBe(true);
    expect(decodeError(text(ack), events).reason).toBe('wrong_subject');
  });

  it('refuses payloads over the limit before parsing them', () => {
    const limit = 100;
    const err = decodeError('x'.repeat(limit + 1), events, { maxPayloadBytes: limit });
    expect(err.reason).toBe('payload_too_large');
    expect(err.message).toMatch(/101 bytes exceeds the 100-byte limit/);
    const multiByte = `"${'é'.repeat(60)}"`; // 62 characters, 122 bytes
    expect(decodeError(multiByte, events, { maxPayloadBytes: limit }).reason).toBe('payload_too_large');
  });

  it(`refuses payloads over ${DEFAULT_MAX_PAYLOAD_BYTES} bytes by default`, () => {
    const failure = (message: string) => ({ phase: 'active', code: 'session_error', message });
    const big = text(
      sessionState({ state: 'failed', failure: failure('x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES)) }),
    );
    expect(decodeError(big, events).reason).toBe('payload_too_large');
    const justUnder = text(sessionState({ state: 'failed', failure: failure('x'.repeat(4000)) }));
    expect(decode(justUnder, events).ok).toBe(true);
  });

  it('rejects a deeply nested message as invalid_fields at the too-deep path, without throwing', () => {
    const start = envelope('session.start', 'supervisor', {
      session: 's1',
      agent: 'dental',
      job: { id: 'j1', room: 'r1' },
      transport: { kind: 'livekit', url: 'wss://lk', token: 't', job: { x: 0 } },
    });
    const depth = 200_000;
    const data = text(start).replace('"x":0', `"x":${'['.repeat(depth)}${']'.repeat(depth)}`);
    const err = decodeError(data, s.workerCmd('w1'));
    expect(err.reason).toBe('invalid_fields');
    expect(err.context.path).toBe(`transport.job.x${'[0]'.repeat(MAX_NESTING_DEPTH - 3)}`);
  });
});

describe('forward compatibility', () => {
  it('tolerates unknown extra fields and strips them', () => {
    const msg = sessionState();
    const fromTheFuture = { ...msg, region: 'eu-west', trace: { span: 'a1', sampled: true } };
    const result = decode(text(fromTheFuture), s.events('worker-01'));
    expect(result).toEqual({ ok: true, message: msg });
  });

  it('tolerates unknown fields inside nested objects', () => {
    const msg = envelope('error', 'supervisor', { error: { code: 'timeout', message: 'slow' } });
    const withExtra = { ...msg, error: { ...msg.error, retryAfterMs: 100 } };
    expect(decode(text(withExtra), '_INBOX.a')).toEqual({ ok: true, message: msg });
  });
});

describe('versions', () => {
  const events = s.events('worker-01');

  it('refuses a version-dependent message from an unsupported version at path v', () => {
    for (const v of [2, 99]) {
      const err = decodeError(text(sessionState({ v })), events);
      expect(err).toMatchObject({
        reason: 'unsupported_version',
        context: { subject: events, messageType: 'session.state', path: 'v' },
      });
    }
  });

  it('reads hello, error and supervisor.up from any version: they carry the negotiation', () => {
    const hello = envelope(
      'hello',
      'worker-09',
      {
        worker: 'worker-09',
        epoch: 'e-9',
        pid: 9,
        host: 'h',
        capacity: 4,
        versions: { min: 2, max: 3 },
        sessions: [],
      },
      { v: 3 },
    );
    expect(decode(text(hello), s.hello('worker-09'))).toEqual({ ok: true, message: hello });
    const error = envelope(
      'error',
      'supervisor',
      { error: { code: 'version_incompatible', message: 'no common version' } },
      { v: 7 },
    );
    expect(decode(text(error), '_INBOX.z').ok).toBe(true);
    const up = envelope('supervisor.up', 'supervisor', { epoch: 's-2' }, { v: 5 });
    expect(decode(text(up), s.broadcast).ok).toBe(true);
  });

  it('still validates version 0 or a missing version', () => {
    expect(decodeError(text(sessionState({ v: 0 })), events).context.path).toBe('v');
    const { v: _v, ...rest } = sessionState();
    expect(decodeError(text(rest), events).context.path).toBe('v');
  });
});

describe('decode checks with compiled schemas, exactly as the catalogue schemas do', () => {
  const hot = JSON.parse(
    readFileSync(new URL('../../bench/protocol/messages.json', import.meta.url), 'utf8'),
  ) as { type: MessageType; subject: string; text: string }[];
  // One break per hot type, deep in the message where it can be; dispatch's `transport` holds
  // `z.json()` (recursive), so its schema is compiled field by field.
  // biome-ignore lint/suspicious/noExplicitAny: the breaks write at paths known from the captured messages
  type Parsed = Record<string, any>;
  const breaks: Record<string, (m: Parsed) => void> = {
    'session.state': (m) => {
      m.seq = 0;
    },
    heartbeat: (m) => {
      m.sessions[2].since = -1;
      m.prewarm.status = 'maybe';
    },
    inspect: (m) => {
      m.actor.kind = 'robot';
      m.summary.x = { nested: true };
    },
    'session.speech': (m) => {
      m.kind = 'middle';
    },
    ack: (m) => {
      m.ref = '';
      m.extra = 1;
    },
    dispatch: (m) => {
      m.audio.loops = 1.5;
      m.transport = { kind: 'livekit', url: 'ftp://x', token: 't', job: { a: [1, { b: null }] } };
    },
  };

  for (const c of hot) {
    it(`${c.type}: accepts the captured message with the same data, rejects a broken one with the same issues`, () => {
      const schema = MESSAGE_SCHEMAS[c.type] as z.ZodType;
      const ok = decode(c.text, c.subject);
      expect(ok.ok && ok.message).toEqual(schema.parse(JSON.parse(c.text)));
      const broken = JSON.parse(c.text) as Parsed;
      breaks[c.type]?.(broken);
      const brokenText = JSON.stringify(broken);
      const expected = schema.safeParse(JSON.parse(brokenText));
      expect(expected.success).toBe(false);
      const got = decode(brokenText, c.subject);
      expect(got.ok).toBe(false);
      if (got.ok || expected.success) return;
      expect(got.error.message).toContain(z.prettifyError(expected.error).replaceAll('\n', '; '));
      expect(got.error.context.path).toBe(formatPath(expected.error.issues[0]?.path ?? []));
    });
  }
});
