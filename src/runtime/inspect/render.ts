import type { InspectEvent } from './events.ts';
import { type SessionHistory, withDurations } from './history.ts';
import type { ActorNode, PoolView, SortKey, ViewFilter } from './view-model.ts';

/** Left-aligned columns padded to the widest cell; each line cut to `width`. */
export function columns(header: string[], rows: string[][], width = Number.POSITIVE_INFINITY): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
      .slice(0, width);
  return [fmt(header), ...rows.map(fmt)];
}

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
const clock = (ts: number) => new Date(ts).toISOString().slice(11, 23);

/** One transition as a log line: time, actor, from → to, event, error. */
export function formatEvent(e: InspectEvent): string {
  const who = e.actor.kind === 'session' ? `${e.actor.id}@${e.actor.parent ?? '?'}` : e.actor.id;
  const err = typeof e.summary.error === 'string' ? `  ${e.summary.error}` : '';
  return `${clock(e.ts)}  ${e.actor.kind.padEnd(10)} ${who.padEnd(22)} ${e.from ?? '·'} → ${e.to}  (${e.event})${err}`;
}

/**
 * The actor tree as indented lines (`├─`, `└─`), each node `id  state  note`; past `perParent`
 * children a parent shows how many more it has.
 */
export function treeLines(nodes: ActorNode[], perParent = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  const walk = (n: ActorNode, lead: string, childLead: string) => {
    out.push(`${lead}${[n.id, n.state, n.note].filter(Boolean).join('  ')}`);
    const shown = n.children.slice(0, perParent);
    const more = n.children.length - shown.length;
    shown.forEach((c, i) => {
      const last = i === shown.length - 1 && more === 0;
      walk(c, `${childLead}${last ? '└─ ' : '├─ '}`, `${childLead}${last ? '   ' : '│  '}`);
    });
    if (more > 0) out.push(`${childLead}└─ … ${more} more`);
  };
  for (const n of nodes) walk(n, '', '');
  return out;
}

export interface RenderOptions {
  filter: ViewFilter;
  sort: SortKey;
  now: number;
  width?: number;
  /** Lines available; the transition log gets what the tables leave. */
  height?: number;
  /** A line shown at the bottom (the filter prompt, the key help). */
  footer?: string;
}

/** The pool as a screen: health, workers, sessions and the latest transitions. */
/** One line for the worker generations, when the pool has more than one (or a rollout under way). */
function generationsLine(view: PoolView): string {
  const gens = view.generations;
  if (gens.length < 2 && !gens.some((g) => g.pending || g.draining)) return '';
  const role = (g: (typeof gens)[number]) =>
    g.serving ? 'serving' : g.draining ? 'draining' : g.pending ? 'starting' : 'idle';
  return `generations: ${gens
    .map(
      (g) =>
        `${g.generation} ${role(g)} (code ${g.code ?? '-'}, ${g.workers.length} workers, ${g.sessions} sessions)`,
    )
    .join(' · ')}`;
}

export function renderView(view: PoolView, o: RenderOptions): string[] {
  const width = o.width ?? 120;
  const sessions = view.sessionRows(o.filter, o.sort, o.now);
  const running = sessions.filter((s) => !['closed', 'failed', 'cancelled'].includes(s.state)).length;
  const rejected = Object.entries(view.rejected).filter(([, n]) => n > 0);
  const filterText = [
    o.filter.agent && `agent=${o.filter.agent}`,
    o.filter.worker && `worker=${o.filter.worker}`,
    o.filter.text && `'${o.filter.text}'`,
  ]
    .filter(Boolean)
    .join(' ');
  const lines = [
    `pool ${view.pool}  health ${view.health}${view.supervisorState === 'unknown' ? '' : `  supervisor ${view.supervisorState}`}  workers ${view.workers.size}  sessions ${running} running / ${sessions.length} shown  sort ${o.sort}${filterText ? `  filter ${filterText}` : ''}`.slice(
      0,
      width,
    ),
    rejected.length ? `rejected messages: ${rejected.map(([r, n]) => `${r}=${n}`).join(' ')}` : '',

    ...columns(
      ['WORKER', 'STATE', 'SUPERVISION', 'SESSIONS', 'RSS MB', 'RESTARTS', 'HOST', 'PID'],
      view
        .workerRows(o.filter)
        .map((w) => [
          w.worker,
          w.state,
          w.supervision,
          `${w.active}/${w.capacity}`,
          (w.rssBytes / 1048576).toFixed(0),
          String(w.restarts),
          w.host ?? '-',
          String(w.pid ?? '-'),
        ]),
      width,
    ),
    ...[generationsLine(view).slice(0, width)].filter(Boolean),
    '',
  ];
  // The actor tree (supervisor → workers → running sessions), kept short: a few sessions per worker.
  const tree = treeLines(
    view.actorTree(o.filter),
    Number.isFinite(o.height ?? Number.POSITIVE_INFINITY) ? 3 : 10,
  );
  const treeRoom = Number.isFinite(o.height ?? Number.POSITIVE_INFINITY)
    ? Math.max(3, Math.floor((o.height as number) / 4))
    : tree.length;
  lines.push(
    'ACTOR TREE',
    ...tree.slice(0, treeRoom).map((l) => l.slice(0, width)),
    ...(tree.length > treeRoom ? [`… ${tree.length - treeRoom} more actors`] : []),
    '',
  );
  const sessionLines = columns(
    ['SESSION', 'AGENT', 'WORKER', 'STATE', 'IN STATE', 'AGE', 'ERROR'],
    sessions.map((s) => [
      s.session,
      s.agent,
      s.worker,
      s.state,
      seconds(o.now - s.since),
      seconds(o.now - s.createdAt),
      s.error ?? '',
    ]),
    width,
  );
  const height = o.height ?? Number.POSITIVE_INFINITY;
  const footer = o.footer ? ['', o.footer.slice(0, width)] : [];
  // Leave at least a few lines for the transition log.
  const logMin = Number.isFinite(height) ? Math.min(6, Math.max(0, height - lines.length - 4)) : 20;
  const sessionRoom = Math.max(2, height - lines.length - logMin - 2 - footer.length);
  lines.push(...sessionLines.slice(0, sessionRoom));
  if (sessionLines.length > sessionRoom) lines.push(`  … ${sessionLines.length - sessionRoom} more`);
  lines.push('', 'RECENT TRANSITIONS');
  const logRoom = Number.isFinite(height) ? Math.max(0, height - lines.length - footer.length) : 20;
  const events = view.recentEvents(o.filter);
  lines.push(
    ...events.slice(Math.max(0, events.length - logRoom)).map((e) => formatEvent(e).slice(0, width)),
  );
  lines.push(...footer);
  return lines;
}

/** A session's transitions with the time spent in each state, as printed by `--session`. */
export function renderHistory(h: SessionHistory, now: number): string {
  const first = h.transitions[0];
  const last = h.transitions[h.transitions.length - 1];
  const agent = h.transitions.find((t) => typeof t.summary.agent === 'string')?.summary.agent ?? '?';
  const head = `session ${h.session}  agent ${agent}  worker ${h.worker ?? '?'}  ${
    h.ended ? `ended ${last?.to ?? '?'}` : `running (${last?.to ?? '?'})`
  }${first && last ? `  total ${last.ts - first.ts} ms` : ''}${h.dropped ? `  (${h.dropped} earlier transitions dropped)` : ''}`;
  const timed = withDurations(h, now);
  const rows = timed.map((t, i) => [
    String(t.seq),
    clock(t.ts),
    first ? `+${t.ts - first.ts}` : '',
    `${t.from ?? '·'} → ${t.to}`,
    t.event,
    t.durationMs === null ? 'final' : `${t.durationMs}${!h.ended && i === timed.length - 1 ? '…' : ''}`,
    typeof t.summary.error === 'string' ? t.summary.error : '',
  ]);
  const lines = columns(['SEQ', 'TIME', 'AT MS', 'TRANSITION', 'EVENT', 'IN STATE MS', 'ERROR'], rows);
  return `${[head, '', ...lines].join('\n')}\n`;
}
