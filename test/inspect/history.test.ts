import { describe, expect, it } from 'vitest';
import { type InspectEvent, REDACTED, redactSummary, redactText } from '../../src/runtime/inspect/events.ts';
import { InspectHistory, withDurations } from '../../src/runtime/inspect/history.ts';

const STATES = ['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed'];

function event(
  session: string,
  seq: number,
  to: string,
  ts = 1000 + seq * 10,
  from?: string | null,
): InspectEvent {
  return {
    pool: 'p',
    actor: { id: session, kind: 'session', parent: 'w1' },
    host: 'h',
    pid: 42,
    from: from === undefined ? (STATES[seq - 2] ?? null) : from,
    to,
    event: `E${seq}`,
    seq,
    ts,
    summary: { agent: 'restaurant', room: 'restaurant-1', worker: 'w1' },
  };
}

function walk(h: InspectHistory, session: string, states = STATES): void {
  for (const [i, to] of states.entries()) h.record(event(session, i + 1, to));
}

describe('the supervisor’s session history', () => {
  it('keeps a session’s transitions in seq order, once each, whatever order they arrive in', () => {
    const h = new InspectHistory();
    const events = STATES.map((to, i) => event('s1', i + 1, to));
    for (const e of [events[2], events[0], events[1], events[0], events[5], events[3], events[4], events[5]])
      if (e) h.record(e);
    const got = h.get('s1');
    expect(got?.transitions.map((t) => t.to)).toEqual(STATES);
    expect(got?.ended).toBe(true);
    expect(got?.worker).toBe('w1');
  });

  it('fills the from-state of a supervisor verdict (worker lost) from the state before it', () => {
    const h = new InspectHistory();
    walk(h, 's1', ['prewarming', 'connecting', 'greeting', 'active']);
    h.record({ ...event('s1', 5, 'failed', 2000, null), event: 'WORKER_LOST' });
    const last = h.get('s1')?.transitions.at(-1);
    expect(last).toMatchObject({ from: 'active', to: 'failed', event: 'WORKER_LOST' });
  });

  it('keeps only the last 200 transitions of a session and says how many it dropped', () => {
    const h = new InspectHistory();
    for (let seq = 1; seq <= 250; seq++) h.record(event('long', seq, seq % 2 ? 'connecting' : 'active'));
    const got = h.get('long');
    expect(got?.transitions).toHaveLength(200);
    expect(got?.transitions[0]?.seq).toBe(51);
    expect(got?.dropped).toBe(50);
  });

  it('remembers the last 1000 ended sessions and forgets older ones; running sessions stay', () => {
    const h = new InspectHistory();
    h.record(event('running', 1, 'prewarming'));
    for (let i = 0; i < 1100; i++) walk(h, `s${i}`);
    expect(h.size).toEqual({ live: 1, ended: 1000 });
    expect(h.get('s99')).toBeUndefined();
    expect(h.get('s100')?.ended).toBe(true);
    expect(h.get('s1099')?.transitions).toHaveLength(6);
    expect(h.get('running')?.ended).toBe(false);
  });

  it('ignores workers and the supervisor: the history is per session', () => {
    const h = new InspectHistory();
    h.record({ ...event('w1', 1, 'ready'), actor: { id: 'w1', kind: 'worker' } });
    expect(h.get('w1')).toBeUndefined();
  });

  it('gives the time spent in each state; the last state of a running session counts until now', () => {
    const h = new InspectHistory();
    h.record(event('s1', 1, 'prewarming', 1000));
    h.record(event('s1', 2, 'connecting', 1012));
    h.record(event('s1', 3, 'active', 1812));
    const running = h.get('s1');
    if (!running) throw new Error('no history');
    expect(withDurations(running, 2000).map((t) => t.durationMs)).toEqual([12, 800, 188]);
    h.record(event('s1', 4, 'closing', 1900));
    h.record(event('s1', 5, 'closed', 1905));
    const ended = h.get('s1');
    if (!ended) throw new Error('no history');
    expect(withDurations(ended, 9999).map((t) => t.durationMs)).toEqual([12, 800, 88, 5, null]);
  });
});

describe('redaction of inspection summaries', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCIsInZpZGVvIjp7fX0.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0';

  it('cuts JWTs, token parameters and bearer credentials out of text', () => {
    const text = `connect to wss://lk.example/rtc?access_token=${jwt}&auto_subscribe=1 failed; Authorization: Bearer abc.def and ${jwt}`;
    const out = redactText(text);
    expect(out).not.toContain(jwt);
    expect(out).not.toContain('abc.def');
    expect(out).toContain(`access_token=${REDACTED}&auto_subscribe=1`);
    expect(out).toContain('wss://lk.example/rtc');
  });

  it('drops summary keys named like secrets and keeps the rest', () => {
    const out = redactSummary({
      agent: 'restaurant',
      token: jwt,
      apiKey: 'k',
      api_key: 'k',
      NATS_PASSWORD: 'p',
      error: `connect_failed: bad token ${jwt}`,
      attempts: 3,
    });
    expect(out).toEqual({ agent: 'restaurant', error: `connect_failed: bad token ${REDACTED}`, attempts: 3 });
  });
});
