import { ERROR_CODES, type ErrorCode, type ErrorData } from '../protocol/index.ts';

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Turns whatever an injected actor rejected with into wire data. An ErrorData-like value keeps
 * its code; an Error or anything else gets `fallback` and a readable message.
 */
export function asErrorData(err: unknown, fallback: ErrorCode): ErrorData {
  if (typeof err === 'object' && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    const text = typeof message === 'string' && message !== '' ? message : undefined;
    if (typeof code === 'string' && CODES.has(code)) {
      return { code: code as ErrorCode, message: text ?? code };
    }
    if (text) return { code: fallback, message: text };
    if (err instanceof Error) return { code: fallback, message: err.name };
  }
  if (typeof err === 'string' && err !== '') return { code: fallback, message: err };
  return { code: fallback, message: err === undefined ? 'no reason given' : String(err) };
}

/** A default for an injected actor or action the runtime must supply via `machine.provide`. */
export function notProvided(name: string): never {
  throw new Error(`'${name}' is not provided: supply it with machine.provide()`);
}
