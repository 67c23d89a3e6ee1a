import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stt, voice } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAudioInput, LocalAudioOutput } from '../../../src/protocol/agent.ts';
import { type AgentDefinition, defineAgent } from '../../../src/runtime/agents/define.ts';
import { LocalSessionTransport } from '../../../src/runtime/voice/local-session-transport.ts';
import {
  type SpeechEvent,
  VoiceSession,
  VoiceSessionError,
  type VoiceSessionEvents,
} from '../../../src/runtime/voice/session-runner.ts';
import { vadLoadCount } from '../../../src/runtime/voice/vad.ts';
import { AUDIO, EXAMPLES, segmentsOf } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openrtc-voice-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Same tolerance as the raw VAD test (see vad.test.ts): the session sees Silero's own boundaries. */
const TOLERANCE_MS = 200;

interface Recorded {
  log: string[];
  speech: SpeechEvent[];
  messages: { role: string; text: string }[];
  errors: { code: string; message: string }[];
  ended: Promise<string | undefined>;
}

function recorder(): { events: VoiceSessionEvents; rec: Recorded } {
  let resolveEnded!: (reason: string | undefined) => void;
  const rec: Recorded = {
    log: [],
    speech: [],
    messages: [],
    errors: [],
    ended: new Promise((r) => {
      resolveEnded = r;
    }),
  };
  const events: VoiceSessionEvents = {
    transportEnded: (reason) => {
      rec.log.push(`transportEnded:${reason}`);
      resolveEnded(reason);
    },
    speech: (e) => {
      rec.log.push(`speech:${e.kind}`);
      rec.speech.push(e);
    },
    error: (e) => {
      rec.log.push(`error:${e.code}`);
      rec.errors.push(e);
    },
    message: (m) => rec.messages.push({ role: m.role, text: m.text }),
  };
  return { events, rec };
}

const local = (input: LocalAudioInput, output: LocalAudioOutput) =>
  new LocalSessionTransport({ input, output });

const wav = (
  path: string,
  more: Partial<Extract<LocalAudioInput, { kind: 'wav' }>> = {},
): LocalAudioInput => ({
  kind: 'wav',
  path,
  realtime: false,
  ...more,
});

/** Runs every phase the session machine would, up to the end of the input. */
async function runToEnd(session: VoiceSession, rec: Recorded): Promise<void> {
  await session.prewarm();
  rec.log.push('prewarmed');
  await session.connect(1);
  rec.log.push('connected');
  await session.greet();
  rec.log.push('greeted');
  await rec.ended;
  await session.close('ended');
  rec.log.push('closed');
}

async function phaseError(p: Promise<unknown>): Promise<VoiceSessionError> {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(VoiceSessionError);
  return err as VoiceSessionError;
}

/** An STT whose provider connection fails at once (FakeSTT's own fakeException only fires after the input ends). */
class UnreachableStream extends stt.testing.FakeRecognizeStream {
  protected override async run(): Promise<void> {
    throw new Error('STT provider down');
  }
}
class UnreachableSTT extends stt.testing.FakeSTT {
  override stream() {
    return new UnreachableStream(this);
  }
}

const speechPairs = (speech: SpeechEvent[]) => ({
  starts: speech.filter((s) => s.kind === 'start').length,
  ends: speech.filter((s) => s.kind === 'end').length,
});

describe('VoiceSession', () => {
  it('runs the restaurant agent on its recording: greets, hears both utterances, books, ends, closes', async () => {
    const out = join(dir, 'restaurant-out.wav');
    const { events, rec } = recorder();
    const transport = local(wav(AUDIO.restaurant), { kind: 'wav', path: out });
    const session = new VoiceSession({ id: 's-restaurant', agent: EXAMPLES.restaurant, transport, events });
    await runToEnd(session, rec);

    expect(rec.log).toEqual([
      'prewarmed',
      'connected',
      'greeted',
      'speech:start',
      'speech:end',
      'speech:start',
      'speech:end',
      'transportEnded:input_ended',
      'closed',
    ]);
    const expected = segmentsOf('restaurant.wav').segments;
    expect(rec.speech.map((s) => s.speechCount)).toEqual([1, 1, 2, 2]);
    rec.speech.forEach((s, i) => {
      const seg = expected[Math.floor(i / 2)];
      const want = s.kind === 'start' ? seg?.startMs : seg?.endMs;
      expect(Math.abs(s.atMs - (want as number))).toBeLessThanOrEqual(TOLERANCE_MS);
    });
    expect(rec.messages).toEqual([
      { role: 'assistant', text: 'Thanks for calling Bella Vista. How can I help you?' },
      { role: 'user', text: 'Hi, I would like to book a table for four people tonight at seven.' },
      { role: 'assistant', text: 'You are all set: a table for four at seven tonight.' },
    ]);
    expect(transport.inputMs).toBeCloseTo(segmentsOf('restaurant.wav').durationMs, -1);
    // No TTS: the agent speaks text only, and the output file is a valid WAV with no audio.
    expect(session.speaksAudio).toBe(false);
    expect((await readFile(out)).subarray(0, 4).toString()).toBe('RIFF');
    expect((await readFile(out)).length).toBe(44);
  });

  it('generates the dental greeting from instructions, with the agent given by module path', async () => {
    const { events, rec } = recorder();
    const session = new VoiceSession({
      id: 's-dental',
      agent: EXAMPLES.dental,
      transport: local(wav(AUDIO.dental), { kind: 'discard' }),
      events,
    });
    await runToEnd(session, rec);
    expect(rec.messages[0]).toEqual({
      role: 'assistant',
      text: 'Bright Smile Dental, good morning! Would you like to book an appointment?',
    });
    expect(speechPairs(rec.speech)).toEqual({ starts: 3, ends: 3 });
    expect(rec.messages.at(-1)?.text).toBe('Done: a cleaning on Tuesday at half past nine with Dr. Lee.');
  });

  it('close is idempotent and no phase runs after it', async () => {
    const session = new VoiceSession({
      id: 's-close',
      agent: EXAMPLES.restaurant,
      transport: local({ kind: 'silence', durationMs: 60_000 }, { kind: 'discard' }),
    });
    await session.prewarm();
    await session.connect(1);
    const first = session.close('cancelled');
    expect(session.close('again')).toBe(first);
    await first;
    expect(session.agentSession).toBeUndefined();
    expect((await phaseError(session.greet())).message).toBe('greet after close');
  });

  it('close before connect frees a prewarmed session', async () => {
    const session = new VoiceSession({
      id: 's-early',
      agent: EXAMPLES.dental,
      transport: local({ kind: 'silence', durationMs: 100 }, { kind: 'discard' }),
    });
    await session.prewarm();
    await session.close('cancelled');
    await expect(session.connect(1)).rejects.toThrow('connect after close');
  });

  it('paces real-time input: silence ends after its duration, with no speech', async () => {
    const { events, rec } = recorder();
    const session = new VoiceSession({
      id: 's-realtime',
      agent: EXAMPLES.restaurant,
      transport: local({ kind: 'silence', durationMs: 600 }, { kind: 'discard' }),
      events,
    });
    await session.prewarm();
    const started = performance.now();
    await session.connect(1);
    expect(await rec.ended).toBe('input_ended');
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    expect(rec.speech).toEqual([]);
    await session.close();
  });

  it('20 concurrent sessions share one VAD and each hears its caller', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => {
      const name = i % 2 === 0 ? 'restaurant' : 'dental';
      const { events, rec } = recorder();
      const session = new VoiceSession({
        id: `s-${i}`,
        agent: EXAMPLES[name],
        transport: local(wav(AUDIO[name]), { kind: 'discard' }),
        events,
      });
      return { name, rec, done: runToEnd(session, rec) };
    });
    await Promise.all(runs.map((r) => r.done));
    expect(vadLoadCount()).toBe(1);
    for (const { name, rec } of runs) {
      const want = segmentsOf(`${name}.wav` as 'restaurant.wav').segments.length;
      expect(speechPairs(rec.speech)).toEqual({ starts: want, ends: want });
      expect(rec.log.at(-2)).toBe('transportEnded:input_ended');
    }
  }, 60_000);

  it('an agent factory that throws fails only its own session', async () => {
    const broken: AgentDefinition = defineAgent({
      name: 'broken',
      agent: () => {
        throw new Error('agent constructor exploded');
      },
    });
    const sessions = [
      { agent: broken as AgentDefinition | string, id: 'bad' },
      { agent: EXAMPLES.restaurant, id: 'good-1' },
      { agent: EXAMPLES.dental, id: 'good-2' },
    ].map(({ agent, id }) => {
      const { events, rec } = recorder();
      const input = wav(id === 'good-2' ? AUDIO.dental : AUDIO.restaurant);
      const session = new VoiceSession({
        id,
        agent,
        events,
        transport: local(input, { kind: 'discard' }),
      });
      return {
        rec,
        result: runToEnd(session, rec).then(
          () => 'ok',
          (e: unknown) => e,
        ),
      };
    });
    const [bad, good1, good2] = await Promise.all(sessions.map((s) => s.result));
    expect(bad).toBeInstanceOf(VoiceSessionError);
    expect((bad as VoiceSessionError).code).toBe('prewarm_failed');
    expect((bad as VoiceSessionError).message).toBe('agent: agent constructor exploded');
    expect([good1, good2]).toEqual(['ok', 'ok']);
    expect(speechPairs(sessions[1]?.rec.speech ?? []).ends).toBe(2);
    expect(speechPairs(sessions[2]?.rec.speech ?? []).ends).toBe(3);
  });

  it('a module that throws at import fails prewarm with agent_import_failed', async () => {
    const path = join(import.meta.dirname, '../../fixtures/agents/broken/throws.ts');
    const session = new VoiceSession({
      id: 's-import',
      agent: path,
      transport: local({ kind: 'silence', durationMs: 10 }, { kind: 'discard' }),
    });
    const err = await phaseError(session.prewarm());
    expect(err.code).toBe('agent_import_failed');
    expect(err.message).toContain(path);
    expect(err.message).toContain('database unreachable at import');
    await session.close();
  });

  it('a missing input file fails connect, naming the file; a retry fails the same way', async () => {
    const missing = join(dir, 'no-such-call.wav');
    const session = new VoiceSession({
      id: 's-missing',
      agent: EXAMPLES.restaurant,
      transport: local(wav(missing), { kind: 'discard' }),
    });
    await session.prewarm();
    const first = await phaseError(session.connect(1));
    expect(first.code).toBe('connect_failed');
    expect(first.message).toContain(`attempt 1: ${missing}: cannot read`);
    expect((await phaseError(session.connect(2))).message).toContain('attempt 2');
    await session.close();
  });

  it('a greeting from instructions without an LLM fails greet, not the session', async () => {
    const session = new VoiceSession({
      id: 's-greet',
      agent: defineAgent({
        greeting: { instructions: 'say hi' },
        agent: () => new voice.Agent({ instructions: 'x' }),
      }),
      transport: local({ kind: 'silence', durationMs: 5000 }, { kind: 'discard' }),
    });
    await session.prewarm();
    await session.connect(1);
    const err = await phaseError(session.greet());
    expect(err.code).toBe('greet_failed');
    expect(err.message).toBe('greeting.instructions needs an llm provider');
    expect(session.agentSession?.agentState).toBe('listening');
    await session.close();
  });

  it('an AgentSession that fails after start reports session_error', async () => {
    const { events, rec } = recorder();
    const session = new VoiceSession({
      id: 's-stt-down',
      agent: defineAgent({
        providers: { stt: () => new UnreachableSTT() },
        session: { connOptions: { sttConnOptions: { maxRetry: 0, retryIntervalMs: 10, timeoutMs: 1000 } } },
        agent: () => new voice.Agent({ instructions: 'x' }),
      }),
      transport: local({ kind: 'silence', durationMs: 10_000 }, { kind: 'discard' }),
      events,
    });
    await session.prewarm();
    await session.connect(1);
    await expect.poll(() => rec.errors.length, { timeout: 10_000 }).toBe(1);
    expect(rec.errors[0]?.code).toBe('session_error');
    expect(rec.errors[0]?.message).toContain('STT provider down');
    await session.close();
  });
});
