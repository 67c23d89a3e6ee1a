import { describe, expect, it } from 'vitest';
import { reducePool } from '../../src/actors/supervisor.machine.ts';
import { pool } from './supervisor-support.ts';

describe('pool reducer drafts', () => {
  it('copy only the maps an event changes, and never change the context they started from', () => {
    const p = pool();
    p.join('w1', 'e1');
    for (const id of ['a', 'b', 'c']) p.dispatch({ sessionId: id });
    const before = p.ctx();
    const frozen = JSON.stringify(before);

    const { context: after } = reducePool(before, {
      type: 'SESSION_STATE',
      now: before.now,
      session: 'a',
      worker: 'w1',
      epoch: 'e1',
      state: 'active',
      seq: 3,
    });
    expect(after.sessions.a?.state).toBe('active');
    expect(after.sessions).not.toBe(before.sessions);
    // Untouched maps are shared, not copied: an event costs the same however many sessions exist.
    expect(after.jobs).toBe(before.jobs);
    expect(after.rejected).toBe(before.rejected);
    expect(JSON.stringify(before)).toBe(frozen);

    const stale = reducePool(after, {
      type: 'SESSION_STATE',
      now: after.now,
      session: 'a',
      worker: 'w1',
      epoch: 'e1',
      state: 'connecting',
      seq: 2,
    });
    expect(stale.context.sessions).toBe(after.sessions);
    expect(stale.context.sessions.a?.state).toBe('active');
  });
});
