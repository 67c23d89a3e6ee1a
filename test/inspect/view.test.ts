import { describe, expect, it } from 'vitest';
import type { InspectEvent } from '../../src/runtime/inspect/events.ts';
import { renderView } from '../../src/runtime/inspect/render.ts';
import type { StatusReply } from '../../src/runtime/inspect/source.ts';
import { PoolView } from '../../src/runtime/inspect/view-model.ts';

const status = (sessions: StatusReply['sessions']): StatusReply => ({
  v: 1,
  id: 'r',
  ts: 1,
  from: 'supervisor',
  type: 'status.ok',
  ref: 'q',
  pool: 'p',
  health: 'ok',
  workers: ['w1', 'w2'].map((worker, i) => ({
    worker,
    epoch: 'e',
    pid: 100 + i,
    host: 'h',
    state: 'ready' as const,
    supervision: 'up' as const,
    active: 0,
    capacity: 10,
    rssBytes: 200 * 1048576,
    prewarmMs: 80,
    restarts: i,
    lastSeen: 1,
  })),
  sessions,
  rejected: { invalid_json: 2 },
});

const row = (
  session: string,
  agent: string,
  worker: string,
  state: 'active' | 'closed',
  seq: number,
  at: number,
) => ({
  session,
  agent,
  worker,
  jobId: `j-${session}`,
  room: `${agent}-1`,
  state,
  seq,
  createdAt: at,
  since: at,
});

const ev = (id: string, seq: number, from: string, to: string, ts: number): InspectEvent => ({
  pool: 'p',
  actor: { id, kind: 'session', parent: 'w1' },
  host: 'h',
  pid: 100,
  from,
  to,
  event: 'E',
  seq,
  ts,
  summary: { agent: 'dental', worker: 'w1' },
});

describe('the pool view of `openrtc inspect`', () => {
  it('moves sessions on events between status replies, and a late reply never rewinds them', () => {
    const view = new PoolView('p');
    view.setStatus(status([row('s1', 'dental', 'w1', 'active', 4, 1000)]));
    view.apply(ev('s1', 5, 'active', 'closing', 2000));
    view.setStatus(status([row('s1', 'dental', 'w1', 'active', 4, 1000)]));
    expect(view.sessions.get('s1')?.state).toBe('closing');
    view.apply(ev('s1', 5, 'active', 'closing', 2000));
    view.apply(ev('s2', 1, 'x', 'prewarming', 2100));
    expect(view.sessions.get('s2')).toMatchObject({ agent: 'dental', worker: 'w1', state: 'prewarming' });
    expect(view.recent.map((e) => `${e.actor.id}:${e.seq}`)).toEqual(['s1:5', 's2:1']);
  });

  it('renders workers, sessions (running first), rejections and the latest transitions; filters and sorts', () => {
    const view = new PoolView('p');
    view.setStatus(
      status([
        row('s1', 'dental', 'w1', 'closed', 6, 1000),
        row('s2', 'restaurant', 'w2', 'active', 4, 2000),
      ]),
    );
    view.apply(ev('s3', 1, '·', 'prewarming', 3000));
    const screen = renderView(view, { filter: {}, sort: 'state', now: 5000, width: 200 }).join('\n');
    expect(screen).toMatch(
      /^pool p {2}health ok {2}workers 2 {2}sessions 2 running \/ 3 shown {2}sort state/,
    );
    expect(screen).toContain('rejected messages: invalid_json=2');
    expect(screen).toMatch(/w2 +ready +up +0\/10 +200 +1 +h +101/);
    const order = ['s3', 's2', 's1'].map((s) => screen.indexOf(`\n${s} `));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(screen).toMatch(/s2 +restaurant +w2 +active +3\.0s +3\.0s/);
    expect(screen).toMatch(/session +s3@w1 +· → prewarming/);
    const dental = renderView(view, { filter: { agent: 'dental' }, sort: 'age', now: 5000 }).join('\n');
    expect(dental).not.toContain('\ns2 ');
    expect(dental.indexOf('\ns3 ')).toBeLessThan(dental.indexOf('\ns1 '));
    const text = renderView(view, { filter: { text: 'REST' }, sort: 'state', now: 5000 }).join('\n');
    expect(text).toContain('\ns2 ');
    expect(text).not.toContain('\ns1 ');
  });

  it('fits the screen: sessions past the room left are counted, the log keeps the newest lines', () => {
    const view = new PoolView('p');
    view.setStatus(
      status(Array.from({ length: 30 }, (_, i) => row(`s${i}`, 'dental', 'w1', 'active', 4, 1000 + i))),
    );
    for (let i = 0; i < 50; i++) view.apply(ev(`s${i}`, 5, 'active', 'closing', 2000 + i));
    const lines = renderView(view, {
      filter: {},
      sort: 'age',
      now: 5000,
      width: 80,
      height: 30,
      footer: 'q quit',
    });
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(lines.some((l) => /^ {2}… \d+ more$/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('q quit');
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    expect(lines.join('\n')).toContain('s49@w1');
  });
});

describe('the actor tree of `openrtc inspect`', () => {
  const event = (
    id: string,
    kind: InspectEvent['actor']['kind'],
    parent: string | undefined,
    seq: number,
    to: string,
  ): InspectEvent => ({
    pool: 'p',
    actor: { id, kind, ...(parent ? { parent } : {}) },
    host: 'h',
    pid: 100,
    from: null,
    to,
    event: 'E',
    seq,
    ts: 1000 + seq,
    summary: kind === 'session' ? { agent: 'dental' } : {},
  });

  it('nests running sessions under the worker that spawned them, and workers under their supervisor', () => {
    const view = new PoolView('p');
    view.setStatus(
      status([row('s1', 'dental', 'w1', 'active', 4, 1000), row('s0', 'dental', 'w2', 'closed', 6, 900)]),
    );
    view.apply(event('supervisor', 'supervisor', undefined, 3, 'running'));
    view.apply(event('w2', 'worker', 'supervisor', 4, 'full'));
    view.apply(event('s2', 'session', 'w2', 1, 'prewarming'));
    view.apply(event('s3', 'session', 'w9', 1, 'prewarming'));
    const tree = view.actorTree();
    expect(tree.map((n) => n.id)).toEqual(['supervisor', 's3']);
    expect(tree[0]?.children.map((w) => [w.id, w.state, w.children.map((s) => s.id)])).toEqual([
      ['w1', 'ready', ['s1']],
      ['w2', 'full', ['s2']],
    ]);
    const screen = renderView(view, { filter: {}, sort: 'state', now: 5000, width: 200 });
    const at = screen.indexOf('ACTOR TREE');
    expect(screen.slice(at + 1, at + 8)).toEqual([
      'supervisor  running  health ok',
      '├─ w1  ready  0/10',
      '│  └─ s1  active  dental',
      '└─ w2  full  0/10',
      '   └─ s2  prewarming  dental',
      's3  prewarming  dental',
      '',
    ]);
  });

  it('a worker that names another parent is not drawn under this supervisor', () => {
    const view = new PoolView('p');
    view.setStatus(status([]));
    view.apply(event('w2', 'worker', 'supervisor-old', 9, 'draining'));
    expect(view.actorTree().map((n) => [n.id, n.children.map((c) => c.id)])).toEqual([
      ['supervisor', ['w1']],
      ['w2', []],
    ]);
  });

  it('shows a few sessions per worker on a small screen and counts the rest', () => {
    const view = new PoolView('p');
    view.setStatus(
      status(Array.from({ length: 8 }, (_, i) => row(`s${i}`, 'dental', 'w1', 'active', 4, 1000 + i))),
    );
    const lines = renderView(view, { filter: {}, sort: 'state', now: 5000, width: 80, height: 40 });
    const at = lines.indexOf('ACTOR TREE');
    expect(lines.slice(at + 1, at + 7).map((l) => l.replace(/s\d/, 'sN'))).toEqual([
      'supervisor  health ok',
      '├─ w1  ready  0/10',
      '│  ├─ sN  active  dental',
      '│  ├─ sN  active  dental',
      '│  ├─ sN  active  dental',
      '│  └─ … 5 more',
    ]);
  });
});
