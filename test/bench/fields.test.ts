import { describe, expect, it } from 'vitest';
import { REQUIRED_FIELDS, resultProblems } from '../../bench/lib/fields.ts';

const hardware = { cpu: 'x', cores: 2, ram_gb: 24, node: process.version };

/** A line that carries every required field of `name`, with `overrides` applied. */
function line(name: string, overrides: Record<string, unknown> = {}): string {
  const result: Record<string, unknown> = { bench: name, hardware };
  for (const [path, ok] of Object.entries(REQUIRED_FIELDS[name] ?? {})) {
    const keys = path.split('.');
    let at = result;
    for (const k of keys.slice(0, -1)) {
      at[k] ??= {};
      at = at[k] as Record<string, unknown>;
    }
    at[keys.at(-1) as string] = ok(true) ? true : 1;
  }
  return JSON.stringify({ ...result, ...overrides });
}

describe("checking a benchmark's JSON line", () => {
  it('accepts a line with every field', () => {
    for (const name of Object.keys(REQUIRED_FIELDS))
      expect(resultProblems(name, `${line(name)}\n`)).toEqual([]);
  });

  it('names a missing or non-numeric field', () => {
    expect(resultProblems('capacity', line('capacity', { ratio: 'fast' }))).toEqual([
      'capacity.ratio = "fast"',
    ]);
    expect(resultProblems('dispatch', line('dispatch', { p99_ms: undefined }))).toEqual([
      'dispatch.p99_ms = undefined',
    ]);
  });

  it('refuses anything but exactly one JSON line, and a line without the hardware', () => {
    expect(resultProblems('protocol', `${line('protocol')}\n${line('protocol')}`)).toHaveLength(1);
    expect(resultProblems('protocol', 'done')).toEqual(['protocol: its stdout line is not JSON']);
    expect(resultProblems('protocol', line('protocol', { hardware: {} }))[0]).toMatch(/hardware/);
  });
});
