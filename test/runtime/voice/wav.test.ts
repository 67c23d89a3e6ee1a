import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeWav,
  parseWav,
  readWavMono16k,
  WavFileWriter,
  WavFormatError,
  writeWav,
} from '../../../src/runtime/voice/wav.ts';
import { AUDIO, segmentsOf } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openrtc-wav-'));
});
afterAll(async () => {
  // rtc-node's FFI (started by resampling) is not disposed: it is one per process, and files share
  // their process, so a later file's Room or resampler would hang on a disposed one.
  await rm(dir, { recursive: true, force: true });
});

function sine(freq: number, rate: number, seconds: number, channels: number): Int16Array {
  const frames = Math.round(rate * seconds);
  const out = new Int16Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(12_000 * Math.sin((2 * Math.PI * freq * i) / rate));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

function zeroCrossings(samples: Int16Array): number {
  let n = 0;
  for (let i = 1; i < samples.length; i++) {
    if ((samples[i - 1] as number) < 0 !== (samples[i] as number) < 0) n++;
  }
  return n;
}

async function badFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

describe('reading WAV files', () => {
  it('reads the bundled restaurant recording as 16 kHz mono with its known duration', async () => {
    const samples = await readWavMono16k(AUDIO.restaurant);
    const { durationMs } = segmentsOf('restaurant.wav');
    expect(Math.abs((samples.length / 16_000) * 1000 - durationMs)).toBeLessThan(1);
    expect(samples.some((s) => Math.abs(s) > 10_000)).toBe(true);
  });

  it('downmixes stereo and resamples 44.1 kHz to 16 kHz, keeping the pitch', async () => {
    const path = join(dir, 'tone-44k-stereo.wav');
    await writeWav(path, sine(440, 44_100, 1, 2), 44_100, 2);
    const samples = await readWavMono16k(path);
    expect(Math.abs(samples.length - 16_000)).toBeLessThan(40);
    // A 440 Hz tone crosses zero 880 times a second at any sample rate.
    expect(Math.abs(zeroCrossings(samples) - 880)).toBeLessThan(10);
  });

  it('round-trips what it writes', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const parsed = parseWav(encodeWav(samples, 16_000), 'mem.wav');
    expect(parsed).toEqual({ samples, sampleRate: 16_000, channels: 1 });
  });

  it('skips unknown chunks and reads WAVE_FORMAT_EXTENSIBLE PCM', () => {
    const base = encodeWav(Int16Array.from([5, 6, 7, 8]), 8000);
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]);
    const fmt = Buffer.alloc(8 + 40);
    fmt.write('fmt ', 0, 'ascii');
    fmt.writeUInt32LE(40, 4);
    base.copy(fmt, 8, 20, 36); // the 16 plain PCM fmt bytes
    fmt.writeUInt16LE(0xfffe, 8);
    fmt.writeUInt16LE(1, 8 + 24); // sub-format GUID begins with PCM's format code
    const bytes = Buffer.concat([base.subarray(0, 12), list, fmt, base.subarray(36)]);
    expect(parseWav(bytes, 'ext.wav')).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(Array.from(parseWav(bytes, 'ext.wav').samples)).toEqual([5, 6, 7, 8]);
  });
});

describe('refusing bad WAV files, naming the file and the problem', () => {
  const good = encodeWav(Int16Array.from([1, 2, 3, 4]), 16_000);
  const withFormat = (format: number, bits: number) => {
    const b = Buffer.from(good);
    b.writeUInt16LE(format, 20);
    b.writeUInt16LE(bits, 34);
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty.wav', new Uint8Array(0), /empty file/],
    ['text.wav', Buffer.from('hello, this is not audio at all'), /not a RIFF file/],
    ['avi.wav', Buffer.concat([good.subarray(0, 8), Buffer.from('AVI '), good.subarray(12)]), /not WAVE/],
    ['float.wav', withFormat(3, 32), /not PCM \(format code 3\)/],
    ['8bit.wav', withFormat(1, 8), /not PCM16 \(8 bits per sample\)/],
    [
      'truncated.wav',
      good.subarray(0, good.length - 3),
      /truncated: data chunk declares 8 bytes, file holds 5/,
    ],
    ['short.wav', good.subarray(0, 10), /truncated/],
    ['nodata.wav', good.subarray(0, 36), /no data chunk/],
    ['nosamples.wav', encodeWav(new Int16Array(0), 16_000), /empty: the data chunk holds no samples/],
  ];
  for (const [name, bytes, reason] of cases) {
    it(`${name}: ${reason.source}`, async () => {
      const path = await badFile(name, bytes);
      const err = await readWavMono16k(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WavFormatError);
      expect((err as WavFormatError).message).toContain(path);
      expect((err as WavFormatError).message).toMatch(reason);
    });
  }

  it('a missing file says it cannot be read', async () => {
    const path = join(dir, 'missing.wav');
    await expect(readWavMono16k(path)).rejects.toThrow(`${path}: cannot read`);
  });
});

describe('WavFileWriter', () => {
  it('appends frames and fixes the header sizes on close', async () => {
    const path = join(dir, 'stream.wav');
    const w = new WavFileWriter(path);
    await w.write(Int16Array.from([1, 2, 3]), 24_000, 1);
    await w.write(Int16Array.from([4, 5]), 24_000, 1);
    await w.close();
    await w.close(); // idempotent
    const parsed = parseWav(await readFile(path), path);
    expect(parsed.sampleRate).toBe(24_000);
    expect(Array.from(parsed.samples)).toEqual([1, 2, 3, 4, 5]);
    expect(w.samplesWritten).toBe(5);
  });

  it('refuses a frame whose format differs from the file', async () => {
    const w = new WavFileWriter(join(dir, 'mixed.wav'));
    await w.write(Int16Array.from([1]), 16_000, 1);
    await expect(w.write(Int16Array.from([1, 2]), 48_000, 2)).rejects.toThrow(
      /48000 Hz\/2 ch, file is 16000 Hz\/1 ch/,
    );
    await w.close();
  });

  it('leaves a valid header-only WAV when nothing was written', async () => {
    const path = join(dir, 'silent.wav');
    await new WavFileWriter(path).close();
    const bytes = await readFile(path);
    expect(bytes.length).toBe(44);
    expect(() => parseWav(bytes, path)).toThrow(/empty: the data chunk holds no samples/);
  });
});
