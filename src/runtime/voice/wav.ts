import type { FileHandle } from 'node:fs/promises';
import { open, readFile, writeFile } from 'node:fs/promises';
import { AudioFrame, AudioResampler } from '@livekit/rtc-node';

/** The rate the worker's audio runs at: Silero's native rate, and what the local transport feeds. */
export const VOICE_SAMPLE_RATE = 16_000;

/** PCM16 audio as read from a WAV file: interleaved samples. */
export interface Pcm16 {
  samples: Int16Array;
  sampleRate: number;
  channels: number;
}

/** A WAV file that cannot be used; the message names the file and what is wrong with it. */
export class WavFormatError extends Error {
  override name = 'WavFormatError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const PCM = 1;
const EXTENSIBLE = 0xfffe;

/** Parses RIFF/WAVE PCM16 bytes; throws WavFormatError naming `file` for anything else. */
export function parseWav(bytes: Uint8Array, file: string): Pcm16 {
  const fail = (reason: string): never => {
    throw new WavFormatError(file, reason);
  };
  if (bytes.length === 0) fail('empty file');
  if (bytes.length < 12) fail(`truncated: ${bytes.length} bytes is shorter than a RIFF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== 'RIFF') fail(`not a RIFF file (starts with ${JSON.stringify(tag(0))})`);
  if (tag(8) !== 'WAVE') fail(`RIFF file is not WAVE (form type ${JSON.stringify(tag(8))})`);

  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) fail('truncated fmt chunk');
      let format = view.getUint16(body, true);
      if (format === EXTENSIBLE && size >= 40 && body + 26 <= bytes.length) {
        format = view.getUint16(body + 24, true); // the sub-format GUID starts with the format code
      }
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) fail('data chunk comes before the fmt chunk');
      const f = fmt as NonNullable<typeof fmt>;
      if (f.format !== PCM) fail(`not PCM (format code ${f.format}); only PCM16 is supported`);
      if (f.bits !== 16) fail(`not PCM16 (${f.bits} bits per sample); only PCM16 is supported`);
      if (f.channels < 1) fail('fmt chunk declares 0 channels');
      if (f.sampleRate < 1) fail('fmt chunk declares a sample rate of 0');
      const available = bytes.length - body;
      if (size > available) fail(`truncated: data chunk declares ${size} bytes, file holds ${available}`);
      const frameBytes = 2 * f.channels;
      const usable = size - (size % frameBytes);
      if (usable === 0) fail('empty: the data chunk holds no samples');
      const samples = new Int16Array(usable / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + 2 * i, true);
      return { samples, sampleRate: f.sampleRate, channels: f.channels };
    }
    offset = body + size + (size % 2); // chunks are word aligned
  }
  return fail(fmt ? 'no data chunk' : 'no fmt chunk');
}

/** Averages interleaved channels into one. */
export function downmix(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c] as number;
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/**
 * Resamples mono PCM16 with @livekit/rtc-node's AudioResampler.
 * Note: that initializes rtc-node's native FFI, which keeps the process alive until
 * `dispose()` from @livekit/rtc-node is called.
 */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return samples;
  const resampler = new AudioResampler(fromRate, toRate, 1);
  try {
    const frames = [
      ...resampler.push(new AudioFrame(samples, fromRate, 1, samples.length)),
      ...resampler.flush(),
    ];
    const out = new Int16Array(frames.reduce((n, f) => n + f.samplesPerChannel, 0));
    let at = 0;
    for (const f of frames) {
      out.set(f.data.subarray(0, f.samplesPerChannel), at);
      at += f.samplesPerChannel;
    }
    return out;
  } finally {
    resampler.close();
  }
}

/** Reads a PCM16 WAV (any channel count and rate) as 16 kHz mono samples. */
export async function readWavMono16k(path: string): Promise<Int16Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new WavFormatError(path, `cannot read: ${(err as Error).message}`);
  }
  const pcm = parseWav(bytes, path);
  return resample(downmix(pcm.samples, pcm.channels), pcm.sampleRate, VOICE_SAMPLE_RATE);
}

function header(dataBytes: number, sampleRate: number, channels: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(PCM, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

function pcmBytes(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(samples[i] as number, 2 * i);
  return b;
}

/** Encodes interleaved PCM16 samples as a WAV file's bytes. */
export function encodeWav(samples: Int16Array, sampleRate: number, channels = 1): Buffer {
  return Buffer.concat([header(samples.length * 2, sampleRate, channels), pcmBytes(samples)]);
}

/** Writes interleaved PCM16 samples to a WAV file. */
export async function writeWav(path: string, samples: Int16Array, sampleRate: number, channels = 1) {
  await writeFile(path, encodeWav(samples, sampleRate, channels));
}

/**
 * Appends PCM16 to a WAV file as it arrives, so a long session never holds its audio in memory;
 * `close()` writes the final sizes into the header. The rate and channels are fixed by the first write.
 */
export class WavFileWriter {
  private file: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private format: { sampleRate: number; channels: number } | undefined;
  private dataBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly path: string,
    private readonly defaultFormat = { sampleRate: VOICE_SAMPLE_RATE, channels: 1 },
  ) {}

  /** Samples written so far, per channel. */
  get samplesWritten(): number {
    return this.dataBytes / 2 / (this.format?.channels ?? 1);
  }

  /** Queues interleaved samples; writes happen in order. */
  write(samples: Int16Array, sampleRate: number, channels: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.path}: WAV writer is closed`));
    if (!this.format) this.format = { sampleRate, channels };
    else if (this.format.sampleRate !== sampleRate || this.format.channels !== channels) {
      const f = this.format;
      return Promise.reject(
        new Error(
          `${this.path}: frame is ${sampleRate} Hz/${channels} ch, file is ${f.sampleRate} Hz/${f.channels} ch`,
        ),
      );
    }
    const bytes = pcmBytes(samples);
    const at = 44 + this.dataBytes;
    this.dataBytes += bytes.length;
    const run = this.chain.then(async () => {
      const file = await this.handle();
      await file.write(bytes, 0, bytes.length, at);
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Finalizes the header and closes the file (creating an empty WAV if nothing was written). */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    this.chain = this.chain.then(async () => {
      const file = await this.handle();
      const f = this.format ?? this.defaultFormat;
      await file.write(header(this.dataBytes, f.sampleRate, f.channels), 0, 44, 0);
      await file.close();
    });
    return this.chain;
  }

  private handle(): Promise<FileHandle> {
    if (this.file) return Promise.resolve(this.file);
    this.opening ??= open(this.path, 'w').then(async (file) => {
      await file.write(header(0, 0, 0), 0, 44, 0);
      this.file = file;
      return file;
    });
    return this.opening;
  }
}
