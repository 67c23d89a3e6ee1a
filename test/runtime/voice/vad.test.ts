import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { VADStream } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { describe, expect, it } from 'vitest';
import { loadSharedVad, VadOptionsConflictError, vadLoadCount } from '../../../src/runtime/voice/vad.ts';
import { readWavMono16k } from '../../../src/runtime/voice/wav.ts';
import { AUDIO, boundaryErrors, segmentsOf, vadSegments } from './helpers.ts';

/**
 * How close Silero's boundaries must be to the ones the audio was built with. Silero decides per
 * 32 ms window; speech starts after 50 ms above threshold and we take the start back by the
 * speech it counted, so starts land within a window or two. espeak-ng's onsets and fades are
 * soft (the build trimmed at 0.5% of full scale), which moves a boundary by a few tens of ms.
 * Ends come later than starts: the probability decays over a window or three after the last
 * phoneme. Measured here: starts +1..+48 ms, ends +37..+105 ms. 200 ms leaves room for other
 * CPUs' ONNX arithmetic and is still far below the 1 s gaps, so a merged or split utterance, or
 * a boundary off by a word, fails the test.
 */
const TOLERANCE_MS = 200;

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

describe('the shared Silero VAD', () => {
  it('is loaded once per process and shared by every caller', async () => {
    // Test files share their vitest process (`isolate: false`): an earlier file may have loaded it.
    const loadedBefore = vadLoadCount() > 0;
    const [a, b] = await Promise.all([loadSharedVad(), loadSharedVad()]);
    const c = await loadSharedVad();
    expect(a.vad).toBe(b.vad);
    expect(c.vad).toBe(a.vad);
    expect(vadLoadCount()).toBe(1);
    // One of the first two did the load here, or neither did because it was already loaded.
    expect([a.ms > 0, b.ms > 0].filter(Boolean)).toHaveLength(loadedBefore ? 0 : 1);
    expect(c.ms).toBe(0);
  });

  it('refuses to reload with different options in the same process', async () => {
    await loadSharedVad();
    await expect(loadSharedVad({ minSilenceDuration: 100 })).rejects.toBeInstanceOf(VadOptionsConflictError);
    expect(vadLoadCount()).toBe(1);
  });

  for (const file of ['restaurant.wav', 'dental.wav'] as const) {
    it(`finds the speech segments of ${file} within ${TOLERANCE_MS} ms`, async () => {
      const { vad } = await loadSharedVad();
      const expected = segmentsOf(file).segments;
      const found = await vadSegments(
        vad,
        await readWavMono16k(file === 'dental.wav' ? AUDIO.dental : AUDIO.restaurant),
      );
      expect(found).toHaveLength(expected.length);
      for (const error of boundaryErrors(found, expected)) expect(error).toBeLessThanOrEqual(TOLERANCE_MS);
    });
  }

  it('finds no speech in silence', async () => {
    const { vad } = await loadSharedVad();
    expect(await vadSegments(vad, new Int16Array(16_000 * 2))).toEqual([]);
  });
});

describe('the shared VAD compared with the plugin as shipped', () => {
  it('decides exactly like silero.VAD.load() with its defaults', async () => {
    const { vad } = await loadSharedVad();
    const plain = await silero.VAD.load();
    expect(vad.minSilenceDuration).toBe(plain.minSilenceDuration);
    for (const file of [AUDIO.restaurant, AUDIO.dental]) {
      const samples = await readWavMono16k(file);
      expect(await vadSegments(vad, samples)).toEqual(await vadSegments(plain, samples));
    }
  });

  it('does not keep closed streams alive, where the plugin as shipped does', async () => {
    const { vad } = await loadSharedVad();
    const plain = await silero.VAD.load();
    const collected = async (make: () => VADStream) => {
      const ref = new WeakRef(make());
      ref.deref()?.close();
      for (let i = 0; i < 5 && ref.deref(); i++) {
        await new Promise((r) => setTimeout(r, 10));
        gc();
      }
      return ref.deref() === undefined;
    };
    expect(await collected(() => vad.stream())).toBe(true);
    expect(await collected(() => plain.stream())).toBe(false);
  });
});
