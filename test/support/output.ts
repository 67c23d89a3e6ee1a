/**
 * The current test's output: worker processes' logs, child `openrtc` processes' output and
 * agents-js's in-process log lines land here instead of the terminal. `test/support/setup.ts`
 * prints it when a test fails and drops it when a test passes, so a green run stays quiet.
 */
const LIMIT = 512 * 1024;
let chunks: string[] = [];
let size = 0;

export const testOutput = {
  /** Appends a chunk; only the last ~512 KB are kept. */
  write(chunk: string | Uint8Array): void {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    chunks.push(text);
    size += text.length;
    while (size > LIMIT && chunks.length > 1) size -= (chunks.shift() as string).length;
  },
  /** Everything written since the last take, and forgets it. */
  take(): string {
    const all = chunks.join('');
    chunks = [];
    size = 0;
    return all;
  },
};
