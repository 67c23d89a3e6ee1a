/** A FIFO of 16-bit samples kept as the chunks they arrived in (no merging on every window). */
export class SampleQueue {
  private chunks: Int16Array[] = [];
  /** Samples of `chunks[0]` already taken. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.size += samples.length;
  }

  /** Removes and returns (a copy of) the first `n` samples, or fewer if fewer are queued. */
  take(n: number): Int16Array {
    const out = new Int16Array(Math.min(n, this.size));
    let at = 0;
    while (at < out.length) {
      const chunk = this.chunks[0] as Int16Array;
      const part = chunk.subarray(this.head, this.head + out.length - at);
      out.set(part, at);
      at += part.length;
      this.head += part.length;
      if (this.head >= chunk.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.size -= out.length;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.size = 0;
  }
}

/**
 * The input audio of the current utterance, as the plugin's speech buffer holds it, without its
 * fixed 60 s allocation: chunks are kept while speech goes on (up to `capacity` samples) and
 * trimmed to the prefix padding while there is none. Chunks are never written after they are pushed.
 */
export class SpeechBuffer {
  private chunks: Int16Array[] = [];
  private head = 0;
  private size = 0;

  constructor(public capacity: number) {}

  get length(): number {
    return this.size;
  }

  /** Appends as much of `samples` as fits; returns how many samples were kept. */
  push(samples: Int16Array): number {
    const n = Math.min(samples.length, this.capacity - this.size);
    if (n <= 0) return 0;
    this.chunks.push(n === samples.length ? samples : samples.subarray(0, n));
    this.size += n;
    return n;
  }

  /** Keeps only the last `n` samples (the plugin's write-cursor reset to the prefix padding). */
  keepLast(n: number): void {
    let drop = this.size - n;
    if (drop <= 0) return;
    this.size = n;
    while (drop > 0) {
      const chunk = this.chunks[0] as Int16Array;
      const left = chunk.length - this.head;
      if (left > drop) {
        this.head += drop;
        return;
      }
      drop -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** A copy of everything held, oldest first. */
  copy(): Int16Array {
    const out = new Int16Array(this.size);
    let at = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i] as Int16Array;
      const part = i === 0 ? chunk.subarray(this.head) : chunk;
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.size = 0;
  }
}
