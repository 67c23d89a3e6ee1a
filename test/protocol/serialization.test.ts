/**
 * The TypeScript counterpart of OpenRTC's pickle regression test: what a supervisor sends a worker
 * must survive the process boundary unchanged, and anything that would not (code, class
 * instances) must be refused when it is sent, naming the field.
 */
import { Job, JobType, ParticipantInfo, ParticipantInfo_Kind, Room } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import {
  type AgentSpec,
  decode,
  encode,
  envelope,
  type Message,
  ProtocolError,
  subjects,
} from '../../src/protocol/index.ts';

const s = subjects('demo');
const inbox = '_INBOX.k3Yt9wQ.1';

const registry: AgentSpec[] = [
  {
    name: 'dental',
    module: '/srv/agents/dental.ts',
    greeting: { say: 'Hello, north clinic. How can I help?' },
    limits: {
      prewarmMs: 10_000,
      connectMs: 5_000,
      connectAttempts: 3,
      connectBackoffMs: 250,
      greetMs: 8_000,
      closeMs: 2_000,
      greetingRequired: true,
    },
    options: {
      llm: 'openai/gpt-4.1-mini',
      stt: 'deepgram/nova-3',
      tts: { model: 'cartesia/sonic-2', voice: 'a0e99841', speed: 1.05 },
      temperature: 0.3,
      tools: ['book_appointment', 'cancel_appointment'],
      hours: { mon: [9, 17], sat: null },
      multilingual: false,
      note: 'Zahnärztin · 歯科 · 🦷',
    },
  },
  {
    name: 'restaurant',
    module: '/srv/agents/restaurant.js',
    greeting: { instructions: 'Greet the caller and offer to book a table.' },
  },
  { name: 'support-2', module: 'file:///srv/agents/support.mjs', limits: { greetingRequired: false } },
];

const welcome = envelope('welcome', 'supervisor', {
  ref: 'hello-7',
  version: 1,
  pool: 'demo',
  supervisorEpoch: 's-91bd',
  heartbeatMs: 1000,
  agents: registry,
});

const localStart = envelope('session.start', 'supervisor', {
  session: 'sess-1',
  agent: 'dental',
  job: { id: 'job-1', room: 'dental-call-1', metadata: '{"agent":"dental"}' },
  transport: {
    kind: 'local',
    input: { kind: 'wav', path: '/srv/audio/caller.wav', realtime: true, loops: 3 },
    output: { kind: 'wav', path: '/tmp/openrtc/sess-1.wav' },
  },
  limits: { greetMs: 5_000 },
});

const liveKitJob = new Job({
  id: 'AJ_8hQz3kT2mWvX',
  dispatchId: 'AD_4rTy7uI9oP0a',
  type: JobType.JT_ROOM,
  agentName: 'dental',
  metadata: '{"agent":"dental"}',
  room: new Room({
    sid: 'RM_5fGh6jKl',
    name: 'dental-call-7',
    metadata: '{"clinic":"north"}',
    creationTime: 1_764_399_000n,
    emptyTimeout: 300,
    maxParticipants: 4,
  }),
  participant: new ParticipantInfo({ sid: 'PA_x1', identity: 'caller-7', kind: ParticipantInfo_Kind.SIP }),
});

const liveKitStart = envelope('session.start', 'supervisor', {
  session: 'sess-2',
  agent: 'dental',
  job: { id: liveKitJob.id, room: 'dental-call-7', roomMetadata: '{"clinic":"north"}' },
  transport: {
    kind: 'livekit',
    url: 'wss://lk.example.com',
    token: 'eyJhbGciOiJIUzI1NiJ9.eyJ2aWRlbyI6e319.sig',
    job: liveKitJob.toJson() as Record<string, never>,
  },
});

/** Sends a message across a simulated process boundary: encode, bytes, decode on its subject. */
function crossBoundary(message: Message, subject: string): Message {
  const bytes = encode(message);
  // What arrives is bytes, as from NATS: a copy, nothing shared with the sender.
  const received = new Uint8Array(bytes);
  const result = decode(received, subject);
  if (!result.ok) throw result.error;
  return result.message;
}

function encodeError(message: unknown): ProtocolError {
  try {
    encode(message as Message);
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error('encode accepted it');
}

describe('what a supervisor sends a worker survives the process boundary', () => {
  it('welcome with the agent registry (greetings, limits, options)', () => {
    expect(crossBoundary(welcome, inbox)).toEqual(welcome);
  });

  it('session.start for the local transport', () => {
    expect(crossBoundary(localStart, s.workerCmd('worker-01'))).toEqual(localStart);
    const silence = {
      ...localStart,
      transport: { kind: 'local', input: { kind: 'silence', durationMs: 1500 }, output: { kind: 'discard' } },
    } as Message;
    expect(crossBoundary(silence, s.workerCmd('worker-01'))).toEqual(silence);
  });

  it('session.start for the livekit transport, with the job as protobuf JSON', () => {
    const received = crossBoundary(liveKitStart, s.workerCmd('worker-01'));
    expect(received).toEqual(liveKitStart);
    // The worker rebuilds the very same Job (BigInt creationTime, enum kinds and all).
    if (received.type !== 'session.start' || received.transport.kind !== 'livekit')
      throw new Error('wrong type');
    const job = Job.fromJson(received.transport.job);
    expect(job.equals(liveKitJob)).toBe(true);
    expect(job.room?.creationTime).toBe(1_764_399_000n);
    expect(job.participant?.kind).toBe(ParticipantInfo_Kind.SIP);
  });

  it('is plain JSON any other language can read', () => {
    for (const message of [welcome, localStart, liveKitStart]) {
      expect(JSON.parse(Buffer.from(encode(message)).toString('utf8'))).toEqual(message);
    }
  });
});

describe('what would not survive is refused when it is sent, naming the field', () => {
  it('an agent spec holding a function', () => {
    const spec = { ...registry[0], options: { ...registry[0]?.options, onGreet: () => 'hi' } };
    const err = encodeError({ ...welcome, agents: [spec] });
    expect(err.reason).toBe('not_plain_data');
    expect(err.context.path).toBe('agents[0].options.onGreet');
    expect(err.message).toMatch(/welcome: agents\[0\]\.options\.onGreet is a function/);
  });

  it('an agent spec holding a provider instance', () => {
    class OpenAILLM {
      model = 'gpt-4.1-mini';
    }
    const spec = { ...registry[1], options: { llm: new OpenAILLM() } };
    const err = encodeError({ ...welcome, agents: [registry[0], spec] });
    expect(err.context.path).toBe('agents[1].options.llm');
    expect(err.message).toMatch(/an instance of OpenAILLM/);
  });

  it('a greeting given as a function', () => {
    const spec = { ...registry[1], greeting: async () => 'hello' };
    const err = encodeError({ ...welcome, agents: [spec] });
    expect(err.context.path).toBe('agents[0].greeting');
  });

  it('the LiveKit Job object itself instead of its JSON', () => {
    const err = encodeError({ ...liveKitStart, transport: { ...liveKitStart.transport, job: liveKitJob } });
    expect(err.context).toMatchObject({ messageType: 'session.start', path: 'transport.job' });
    expect(err.message).toMatch(/an instance of Job/);
  });

  it('a Map of limits and a Date in options', () => {
    expect(encodeError({ ...welcome, agents: [{ ...registry[0], limits: new Map() }] }).context.path).toBe(
      'agents[0].limits',
    );
    const withDate = { ...registry[0], options: { since: new Date() } };
    expect(encodeError({ ...welcome, agents: [withDate] }).context.path).toBe('agents[0].options.since');
  });
});
