import type { SessionEndEvent, SessionStartEvent } from '../../../src/runtime/ops/observers.ts';

// A billing/audit observer as a user writes one: named exports, plain data in. It records what it
// gets on globalThis (observers run in the supervisor's process: here, the test's).
const g = globalThis as { __openrtcObserved?: unknown[] };
g.__openrtcObserved ??= [];
const seen = g.__openrtcObserved;

export function onSessionStart(e: SessionStartEvent): void {
  seen.push(e);
}

export async function onSessionEnd(e: SessionEndEvent): Promise<void> {
  await new Promise((r) => setTimeout(r, 5));
  seen.push(e);
}
