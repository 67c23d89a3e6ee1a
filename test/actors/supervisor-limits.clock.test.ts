import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/protocol/index.ts';
import { pool } from './supervisor-support.ts';

type Pool = ReturnType<typeof pool>;

/** The worker reports the session's end with `outcome`. */
function end(p: Pool, session: string, outcome: Outcome, worker = 'w1', epoch = 'e1') {
  p.send({
    type: 'SESSION_ENDED',
    now: p.clock.now(),
    session,
    worker,
    epoch,
    seq: 9,
    outcome,
    ...(outcome === 'failed' ? { error: { code: 'session_error' as const, message: 'boom' } } : {}),
  });
}

const tenantJob = (tenant: string) => ({ metadata: JSON.stringify({ tenant, plan: 'x' }) });

describe('caps on concurrent sessions (simulated clock)', () => {
  it('an agent at its cap refuses with over_limit at once, never queued; an end frees a slot', () => {
    const p = pool({ limits: { agents: { dental: 2 } } });
    p.join('w1', 'e1', 10);
    expect(p.dispatch({ agent: 'dental', sessionId: 'a' })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental', sessionId: 'b' })).toMatchObject({ ok: true });
    const refused = p.dispatch({ agent: 'dental', sessionId: 'c' });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'over_limit', details: { agent: 'dental', limit: 2, active: 2 } },
    });
    // Nothing was placed for the refused one, and other agents are not capped.
    expect(p.of('session.place').map((x) => x.sessionId)).toEqual(['a', 'b']);
    expect(p.ctx().sessions.c).toBeUndefined();
    expect(p.dispatch({ agent: 'restaurant', sessionId: 'r1' })).toMatchObject({ ok: true });
    end(p, 'a', 'success');
    expect(p.dispatch({ agent: 'dental', sessionId: 'd' })).toMatchObject({ ok: true });
  });

  it('perAgent caps every agent not named', () => {
    const p = pool({ limits: { perAgent: 1, agents: { dental: 3 } } });
    p.join('w1', 'e1', 10);
    expect(p.dispatch({ agent: 'restaurant' })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'restaurant' })).toMatchObject({ ok: false, error: { code: 'over_limit' } });
    for (let i = 0; i < 3; i++) expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: false, error: { code: 'over_limit' } });
  });

  it('a tenant (from job metadata) at its cap is refused; other tenants and untagged jobs are not', () => {
    const p = pool({ limits: { tenants: { acme: 1 }, perTenant: 2 } });
    p.join('w1', 'e1', 10);
    expect(p.dispatch({ agent: 'dental', job: tenantJob('acme') })).toMatchObject({ ok: true });
    const refused = p.dispatch({ agent: 'restaurant', job: tenantJob('acme') });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'over_limit', details: { tenant: 'acme', limit: 1, active: 1 } },
    });
    expect(refused.ok === false && refused.error.message).toContain('tenant acme');
    expect(p.dispatch({ agent: 'dental', job: tenantJob('globex') })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental', job: tenantJob('globex') })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental', job: tenantJob('globex') })).toMatchObject({ ok: false });
    expect(p.dispatch({ agent: 'dental', job: { metadata: 'not json' } })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: true });
  });

  it('a repeated job id returns its session even at the cap (idempotent, not a new session)', () => {
    const p = pool({ limits: { perAgent: 1 } });
    p.join('w1', 'e1', 10);
    const first = p.dispatch({ agent: 'dental', job: { id: 'job-1' } });
    expect(p.dispatch({ agent: 'dental', job: { id: 'job-1' } })).toMatchObject({
      ok: true,
      existing: true,
      session: first.ok ? first.session : '',
    });
  });
});

describe('the per-agent circuit breaker (simulated clock)', () => {
  const breaker = { failures: 3, windowMs: 10_000, cooldownMs: 5_000 };

  it('opens after N failures in the window, refuses at once, lets one probe through after the cool-down; success closes it', () => {
    const p = pool({ breaker });
    p.join('w1', 'e1', 10);
    for (const id of ['a', 'b', 'c']) p.dispatch({ agent: 'dental', sessionId: id });
    end(p, 'a', 'failed');
    end(p, 'b', 'failed');
    expect(p.ctx().breakers.dental).toMatchObject({ state: 'closed', failures: [0, 0] });
    end(p, 'c', 'failed');
    expect(p.of('agent.breaker')).toMatchObject([{ agent: 'dental', state: 'open', previous: 'closed' }]);

    // Open: refused at once; nothing placed; other agents unaffected.
    const refused = p.dispatch({ agent: 'dental', sessionId: 'x' });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'agent_unhealthy', details: { breaker: 'open' } },
    });
    expect(p.ctx().sessions.x).toBeUndefined();
    expect(p.dispatch({ agent: 'restaurant' })).toMatchObject({ ok: true });

    // Still open just before the cool-down ends.
    p.advance(4_900, ['w1']);
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: false, error: { code: 'agent_unhealthy' } });
    p.advance(100, ['w1']);
    expect(p.ctx().breakers.dental?.state).toBe('half_open');

    // Half open: one probe goes through, the next is refused while it runs.
    expect(p.dispatch({ agent: 'dental', sessionId: 'probe' })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental', sessionId: 'y' })).toMatchObject({
      ok: false,
      error: { code: 'agent_unhealthy', details: { breaker: 'half_open', probe: 'probe' } },
    });
    end(p, 'probe', 'success');
    expect(p.ctx().breakers.dental).toMatchObject({ state: 'closed', failures: [] });
    expect(p.of('agent.breaker').map((e) => e.state)).toEqual(['open', 'half_open', 'closed']);
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: true });
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: true });
  });

  it('a failed probe re-opens it for another cool-down', () => {
    const p = pool({ breaker });
    p.join('w1', 'e1', 10);
    for (const id of ['a', 'b', 'c']) {
      p.dispatch({ agent: 'dental', sessionId: id });
      end(p, id, 'failed');
    }
    p.advance(5_000, ['w1']);
    p.dispatch({ agent: 'dental', sessionId: 'probe' });
    end(p, 'probe', 'failed');
    expect(p.ctx().breakers.dental).toMatchObject({ state: 'open', openedAt: 5_000 });
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: false, error: { code: 'agent_unhealthy' } });
    p.advance(5_000, ['w1']);
    expect(p.dispatch({ agent: 'dental', sessionId: 'probe2' })).toMatchObject({ ok: true });
    end(p, 'probe2', 'success');
    expect(p.ctx().breakers.dental?.state).toBe('closed');
    expect(p.of('agent.breaker').map((e) => e.state)).toEqual([
      'open',
      'half_open',
      'open',
      'half_open',
      'closed',
    ]);
  });

  it('failures outside the window do not add up; successes and cancellations never count', () => {
    const p = pool({ breaker });
    p.join('w1', 'e1', 10);
    const fail = (id: string) => {
      p.dispatch({ agent: 'dental', sessionId: id });
      end(p, id, 'failed');
    };
    fail('a');
    fail('b');
    p.advance(10_000, ['w1']);
    fail('c');
    for (const [id, outcome] of [
      ['d', 'success'],
      ['e', 'cancelled'],
    ] as const) {
      p.dispatch({ agent: 'dental', sessionId: id });
      end(p, id, outcome);
    }
    expect(p.ctx().breakers.dental).toMatchObject({ state: 'closed', failures: [10_000] });
    fail('f');
    expect(p.ctx().breakers.dental?.state).toBe('closed');
    fail('g');
    expect(p.ctx().breakers.dental?.state).toBe('open');
  });

  it('a session lost with its worker counts as a failure', () => {
    const p = pool({ breaker: { failures: 2, windowMs: 60_000, cooldownMs: 60_000 } });
    p.join('w1', 'e1', 10);
    p.dispatch({ agent: 'dental', sessionId: 'a' });
    p.dispatch({ agent: 'dental', sessionId: 'b' });
    p.sessionState('a', 'w1', 'e1', 'active', 1);
    p.sessionState('b', 'w1', 'e1', 'active', 1);
    // w1 goes silent: declared lost after 3 missed beats, with both sessions.
    p.advance(5_000);
    expect(p.of('session.lost').map((x) => x.sessionId)).toEqual(['a', 'b']);
    expect(p.of('agent.breaker')).toMatchObject([{ agent: 'dental', state: 'open', failures: 2 }]);
  });

  it('without breaker config nothing ever opens', () => {
    const p = pool();
    p.join('w1', 'e1', 10);
    for (let i = 0; i < 20; i++) {
      p.dispatch({ agent: 'dental', sessionId: `f${i}` });
      end(p, `f${i}`, 'failed');
    }
    expect(p.ctx().breakers).toEqual({});
    expect(p.dispatch({ agent: 'dental' })).toMatchObject({ ok: true });
  });
});
