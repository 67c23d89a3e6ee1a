import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadableStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalAudioSink, LocalAudioSource } from '../../../src/runtime/voice/local-transport.ts';
import { loadSharedVad } from '../../../src/runtime/voice/vad.ts';
import { parseWav, readWavMono16k, writeWav } from '../../../src/runtime/voice/wav.ts';
import { waitFor } from '../../support/wait.ts';
import { AUDIO } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openrtc-local-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads `total` samples of frames from a source's output stream. */
async function drain(source: LocalAudioSource, total: number): Promise<AudioFrame[]> {
  const reader = source.stream.getReader();
  const frames: AudioFrame[] = [];
  let n = 0;
  while (n < total) {
    const { value, done } = await reader.read();
    if (done) break;
    frames.push(value);
    n += value.samplesPerChannel;
  }
  reader.releaseLock();
  return frames;
}

const concat = (frames: AudioFrame[]) => Int16Array.from(frames.flatMap((f) => Array.from(f.data)));

const frame = (ms: number, value = 1000, rate = 16_000) => {
  const n = (rate * ms) / 1000;
  return new AudioFrame(new Int16Array(n).fill(value), rate, 1, n);
};

describe('LocalAudioSource', () => {
  it('feeds the whole WAV in 20 ms frames, then ends', async () => {
    const expected = await readWavMono16k(AUDIO.restaurant);
    const source = await LocalAudioSource.open({ kind: 'wav', path: AUDIO.restaurant, realtime: false });
    source.start();
    const frames = await drain(source, expected.length);
    expect(await source.ended).toBe('ended');
    expect(frames.slice(0, -1).every((f) => f.samplesPerChannel === 320 && f.sampleRate === 16_000)).toBe(
      true,
    );
    expect(concat(frames)).toEqual(expected);
    expect(source.fedMs).toBeCloseTo(source.durationMs, 6);
    await source.stop();
  });

  it('sources on the same file share one decoded copy, and a rewritten file is read again', async () => {
    const path = join(dir, 'shared.wav');
    await writeWav(path, new Int16Array(1600).fill(100), 16_000);
    const samplesOf = (s: LocalAudioSource) => Reflect.get(s, 'samples') as Int16Array;
    const [a, b] = await Promise.all([
      LocalAudioSource.open({ kind: 'wav', path, realtime: false }),
      LocalAudioSource.open({ kind: 'wav', path, realtime: false }),
    ]);
    expect(samplesOf(a)).toBe(samplesOf(b));
    await writeWav(path, new Int16Array(3200).fill(-100), 16_000);
    const c = await LocalAudioSource.open({ kind: 'wav', path, realtime: false });
    expect(samplesOf(c)).not.toBe(samplesOf(a));
    expect(c.totalSamples).toBe(3200);
    c.start();
    expect(concat(await drain(c, 3200))).toEqual(new Int16Array(3200).fill(-100));
    for (const s of [a, b, c]) await s.stop();
  });

  it('plays the file `loops` times back to back', async () => {
    const once = await readWavMono16k(AUDIO.dental);
    const source = await LocalAudioSource.open({
      kind: 'wav',
      path: AUDIO.dental,
      realtime: false,
      loops: 3,
    });
    source.start();
    const all = concat(await drain(source, once.length * 3));
    expect(all.length).toBe(once.length * 3);
    expect(all.subarray(once.length, 2 * once.length)).toEqual(once);
    expect(all.subarray(2 * once.length)).toEqual(once);
    await source.stop();
  });

  it('paces silence at real time', async () => {
    const source = await LocalAudioSource.open({ kind: 'silence', durationMs: 300 });
    const started = performance.now();
    source.start();
    const frames = await drain(source, 4800);
    await source.ended;
    expect(frames).toHaveLength(15);
    expect(frames.every((f) => f.data.every((s) => s === 0))).toBe(true);
    // Frame k is released at k*20 ms: the last at 280 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(270);
    await source.stop();
  });

  it('in fast mode stays at most maxLeadMs ahead of what the consumer processed', async () => {
    let processed = 0;
    let asks = 0;
    const source = await LocalAudioSource.open(
      { kind: 'wav', path: AUDIO.restaurant, realtime: false },
      {
        processedMs: () => {
          asks += 1;
          return processed;
        },
        maxLeadMs: 200,
      },
    );
    source.start();
    const reader = source.stream.getReader();
    const pump = (async () => {
      while (true) if ((await reader.read()).done) break;
    })();
    /** Waits until the feeder has fed `ms` and then asked for progress 3 more times: it is holding. */
    const holdsAt = async (ms: number) => {
      let asksThere: number | undefined;
      await waitFor(`the feeder holding at ${ms} ms`, (note) => {
        note({ fedMs: source.fedMs, asks });
        if (source.fedMs < ms) return false;
        asksThere ??= asks;
        return asks >= asksThere + 3;
      });
    };
    await holdsAt(200);
    expect(source.fedMs).toBeLessThanOrEqual(220);
    processed = 1000;
    await holdsAt(1200);
    expect(source.fedMs).toBeLessThanOrEqual(1220);
    processed = Number.POSITIVE_INFINITY;
    expect(await source.ended).toBe('ended');
    reader.releaseLock();
    await source.stop();
    await pump.catch(() => {});
  });

  it('stop() ends the input early', async () => {
    const source = await LocalAudioSource.open({ kind: 'silence', durationMs: 60_000 });
    source.start();
    await drain(source, 640);
    await source.stop();
    expect(await source.ended).toBe('stopped');
    expect(source.fedMs).toBeLessThan(1000);
  });

  it('refuses a bad WAV when opened, naming the file', async () => {
    const path = join(dir, 'nope.wav');
    await expect(LocalAudioSource.open({ kind: 'wav', path })).rejects.toThrow(path);
  });
});

describe('LocalAudioSink', () => {
  it('finishes a flushed segment at once in fast mode and reports its length', async () => {
    const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: false });
    const finished: voice.PlaybackFinishedEvent[] = [];
    sink.on(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, (ev) => finished.push(ev));
    await sink.captureFrame(frame(20));
    await sink.captureFrame(frame(20));
    sink.flush();
    await sink.waitForPlayout();
    expect(finished).toEqual([{ playbackPosition: 0.04, interrupted: false }]);
    expect(sink.audioMs).toBeCloseTo(40, 6);
  });

  // Playout timing runs on vitest's fake clock (Date and timers): exact, and immune to a busy CPU.
  const onFakeClock = async (body: () => Promise<void>) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      await body();
    } finally {
      vi.useRealTimers();
    }
  };

  it('plays a segment for its duration in real time, and pause() holds it', () =>
    onFakeClock(async () => {
      const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: true });
      const finished: voice.PlaybackFinishedEvent[] = [];
      sink.on(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, (ev) => finished.push(ev));
      const started = Date.now();
      await sink.captureFrame(frame(100));
      sink.flush();
      sink.pause();
      await vi.advanceTimersByTimeAsync(500);
      expect(finished).toEqual([]);
      sink.resume();
      await vi.advanceTimersByTimeAsync(99);
      expect(finished).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(finished).toEqual([{ playbackPosition: 0.1, interrupted: false }]);
      expect(Date.now() - started).toBe(600);
    }));

  it('clearBuffer() interrupts what is playing and reports how much played', () =>
    onFakeClock(async () => {
      const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: true });
      await sink.captureFrame(frame(1000));
      sink.flush();
      await vi.advanceTimersByTimeAsync(250);
      sink.clearBuffer();
      const ev = await sink.waitForPlayout();
      expect(ev).toEqual({ playbackPosition: 0.25, interrupted: true });
    }));

  it('clearBuffer() while a segment is still being captured ends that segment', async () => {
    const sink = new LocalAudioSink({ kind: 'discard' }, { realtime: true });
    await sink.captureFrame(frame(200));
    sink.clearBuffer();
    expect((await sink.waitForPlayout()).interrupted).toBe(true);
    await sink.captureFrame(frame(20)); // a new segment, counted anew
    sink.flush();
    expect(await sink.waitForPlayout()).toEqual({ playbackPosition: 0.02, interrupted: false });
  });

  it('writes what it captured to the WAV file', async () => {
    const path = join(dir, 'agent.wav');
    const sink = new LocalAudioSink({ kind: 'wav', path }, { realtime: false });
    await sink.captureFrame(frame(20, 7, 24_000));
    sink.flush();
    await sink.captureFrame(frame(10, -3, 24_000));
    sink.flush();
    await sink.close();
    const wav = parseWav(await readFile(path), path);
    expect(wav.sampleRate).toBe(24_000);
    expect(Array.from(wav.samples)).toEqual([...Array(480).fill(7), ...Array(240).fill(-3)]);
  });
});

describe('the local transport in a real AgentSession', () => {
  /** A session with no TTS: `say(text, {audio})` plays given audio through the output. */
  async function startSession(outputPath: string, realtime: boolean) {
    const { vad } = await loadSharedVad();
    const session = new voice.AgentSession({ vad, turnHandling: { turnDetection: 'vad' } });
    const source = await LocalAudioSource.open({ kind: 'silence', durationMs: 10_000 });
    const sink = new LocalAudioSink({ kind: 'wav', path: outputPath }, { realtime });
    session.input.audio = source;
    session.output.audio = sink;
    await session.start({ agent: new voice.Agent({ instructions: 'test' }), record: false });
    source.start();
    return { session, source, sink };
  }

  const audioStream = (samples: Int16Array) => {
    let at = 0;
    return new ReadableStream<AudioFrame>({
      pull(controller) {
        if (at >= samples.length) return controller.close();
        const data = samples.slice(at, at + 320);
        at += data.length;
        controller.enqueue(new AudioFrame(data, 16_000, 1, data.length));
      },
    });
  };

  it('plays a speech handle to the end and writes its audio', async () => {
    const path = join(dir, 'say.wav');
    const { session, source, sink } = await startSession(path, false);
    const speech = (await readWavMono16k(AUDIO.dental)).slice(0, 16_000);
    const handle = session.say('Hello.', { audio: audioStream(speech) });
    await handle.waitForPlayout();
    expect(handle.interrupted).toBe(false);
    await session.close();
    await source.stop();
    await sink.close();
    const wav = parseWav(await readFile(path), path);
    expect(wav.samples).toEqual(speech);
  });

  it('an interrupted speech handle finishes, marked interrupted', async () => {
    const { session, source, sink } = await startSession(join(dir, 'interrupted.wav'), true);
    const speech = await readWavMono16k(AUDIO.restaurant);
    const handle = session.say('A long announcement.', { audio: audioStream(speech) });
    await waitFor('the agent speaking', (note) => {
      note(session.agentState);
      return session.agentState === 'speaking';
    });
    await session.interrupt().await;
    await handle.waitForPlayout();
    expect(handle.interrupted).toBe(true);
    await session.close();
    await source.stop();
    await sink.close();
  });
});
