/** What a wait saw last, for its timeout message. */
export type Note = (seen: unknown) => void;

const show = (x: unknown): string => {
  if (x instanceof Error) return `${x.name}: ${x.message}`;
  let text: string;
  try {
    text = typeof x === 'string' ? x : (JSON.stringify(x) ?? String(x));
  } catch {
    text = String(x);
  }
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
};

/**
 * Polls `check` until it returns a truthy value, and returns it. On timeout it throws with `what`
 * and what it last saw: whatever `check` passed to `note` (say, the states it found), else its
 * last error, else its last return value.
 */
export async function waitFor<T>(
  what: string,
  check: (note: Note) => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let noted: { value: unknown } | undefined;
  let error: unknown;
  let returned: unknown;
  const note: Note = (seen) => {
    noted = { value: seen };
  };
  for (;;) {
    try {
      const value = await check(note);
      if (value) return value as NonNullable<T>;
      returned = value;
      error = undefined;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) {
      const saw = noted
        ? `last saw: ${show(noted.value)}`
        : error !== undefined
          ? `last error: ${show(error)}`
          : `last result: ${show(returned)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${saw})`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export { isAlive } from '../../src/runtime/process-alive.ts';
