// The inspector page: live pool view from Server-Sent Events, the selected actor's statechart
// (mermaid, drawn from the machine that runs) with its current state lit, and its timeline.
/* global mermaid */
const FINAL = new Set(['closed', 'failed', 'cancelled']);
const MAX_TRANSITIONS = 200;
const $ = (id) => document.getElementById(id);

const model = {
  pool: '',
  health: 'unknown',
  /** The supervisor actor: its id (from its events or the status sender) and its state. */
  supervisor: null,
  supervisorState: '',
  workers: new Map(),
  sessions: new Map(),
  /** actor id → { kind, parent, transitions: [{seq, from, to, event, ts, summary}] } */
  actors: new Map(),
  selected: null,
  charts: null,
  drawn: null,
  trail: [],
};

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
};
const secs = (ms) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
const stateCell = (state) => el('td', { class: `state state-${state}` }, state);

function actor(id, kind, parent) {
  let a = model.actors.get(id);
  if (!a) {
    a = { id, kind, parent, transitions: [] };
    model.actors.set(id, a);
  }
  if (parent) a.parent = parent;
  return a;
}

function addTransition(a, t) {
  const list = a.transitions;
  let i = list.length;
  while (i > 0 && list[i - 1].seq > t.seq) i--;
  if (list[i - 1]?.seq === t.seq) return false;
  list.splice(i, 0, { ...t, from: t.from ?? list[i - 1]?.to ?? null });
  if (list.length > MAX_TRANSITIONS) list.splice(0, list.length - MAX_TRANSITIONS);
  return true;
}

function current(a) {
  return a.transitions[a.transitions.length - 1];
}

function onInspect(e) {
  const a = actor(e.actor.id, e.actor.kind, e.actor.parent);
  if (!addTransition(a, { seq: e.seq, from: e.from, to: e.to, event: e.event, ts: e.ts, summary: e.summary }))
    return;
  if (e.actor.kind === 'session') {
    const prev = model.sessions.get(e.actor.id);
    if (!prev || prev.seq < e.seq) {
      model.sessions.set(e.actor.id, {
        session: e.actor.id,
        agent: prev?.agent ?? e.summary.agent ?? '?',
        worker: prev?.worker ?? e.actor.parent ?? '?',
        state: e.to,
        seq: e.seq,
        since: e.ts,
        createdAt: prev?.createdAt ?? e.ts,
      });
    }
    // A new session: its first event, or its birth (`prewarming`) when a status snapshot listed it
    // before its first event arrived.
    const born = !prev || e.to === 'prewarming';
    if (born && !FINAL.has(e.to) && $('follow').checked) select('session', e.actor.id);
  } else if (e.actor.kind === 'worker') {
    const w = model.workers.get(e.actor.id);
    if (w) w.state = e.to;
  } else {
    model.supervisor = e.actor.id;
    model.supervisorState = e.to;
    $('supervisor-state').textContent = e.to;
  }
  const log = $('log');
  const who = e.actor.kind === 'session' ? `${e.actor.id}@${e.actor.parent}` : e.actor.id;
  log.prepend(
    el(
      'li',
      {},
      `${new Date(e.ts).toISOString().slice(11, 23)} ${who} ${e.from ?? '·'} → ${e.to} (${e.event})`,
    ),
  );
  while (log.children.length > 100) log.lastChild.remove();
  if (model.selected?.id === e.actor.id) drawSelected();
  renderTables();
}

function onStatus(s) {
  model.pool = s.pool;
  model.supervisor = s.from;
  model.health = s.health;
  model.workers = new Map(s.workers.map((w) => [w.worker, w]));
  for (const x of s.sessions) {
    const prev = model.sessions.get(x.session);
    if (prev && prev.seq > x.seq) continue;
    model.sessions.set(x.session, { ...x, since: prev?.state === x.state ? prev.since : x.since });
  }
  $('pool').textContent = s.pool;
  // Agents whose circuit breaker is not closed (docs/operations.md) show next to the health.
  const breakers = (s.breakers ?? []).filter((b) => b.state !== 'closed');
  // Worker generations, while there is more than one or a rollout is under way (docs/operations.md).
  const gens = s.generations ?? [];
  const role = (g) => (g.serving ? 'serving' : g.draining ? 'draining' : g.pending ? 'starting' : 'idle');
  const showGens = gens.length > 1 || gens.some((g) => g.pending || g.draining);
  $('health').textContent = [
    s.health,
    ...(breakers.length ? [`breaker ${breakers.map((b) => `${b.agent}=${b.state}`).join(' ')}`] : []),
    ...(showGens ? [`generations ${gens.map((g) => `${g.generation} ${role(g)}`).join(', ')}`] : []),
  ].join(' · ');
  renderTables();
  if (!model.selected && s.workers[0]) select('worker', s.workers[0].worker);
}

/** The actor tree: supervisor → workers (their reported parent) → running sessions (parent: their worker). */
function renderTree() {
  const item = (kind, id, state, note, children) => {
    const label = el('button', { type: 'button', class: 'link' }, id);
    label.onclick = () => select(kind, id);
    const li = el('li', { 'data-kind': kind, 'data-actor': id }, label, ' ');
    if (state) li.append(el('span', { class: `state state-${state}` }, state));
    if (note) li.append(` ${note}`);
    if (model.selected?.id === id) li.classList.add('selected');
    if (children.length) li.append(el('ul', {}, ...children));
    return li;
  };
  const running = [...model.sessions.values()].filter((s) => !FINAL.has(s.state));
  const sessionItem = (s) => item('session', s.session, s.state, s.agent, []);
  const workerItem = (w) =>
    item(
      'worker',
      w.worker,
      w.state,
      `${w.active}/${w.capacity}`,
      running.filter((s) => s.worker === w.worker).map(sessionItem),
    );
  const top = model.supervisor;
  const parentOf = (w) => model.actors.get(w.worker)?.parent ?? top;
  const workers = [...model.workers.values()];
  const roots = [];
  if (top)
    roots.push(
      item(
        'supervisor',
        top,
        model.supervisorState,
        '',
        workers.filter((w) => parentOf(w) === top).map(workerItem),
      ),
    );
  roots.push(...workers.filter((w) => !top || parentOf(w) !== top).map(workerItem));
  roots.push(...running.filter((s) => !model.workers.has(s.worker)).map(sessionItem));
  $('tree').replaceChildren(...roots);
}

function renderTables() {
  renderTree();
  const now = Date.now();
  const wbody = el('tbody');
  for (const w of model.workers.values()) {
    const tr = el(
      'tr',
      { 'data-worker': w.worker },
      el('td', {}, w.worker),
      stateCell(w.state),
      el('td', {}, `${w.active}/${w.capacity}`),
      el('td', {}, (w.rssBytes / 1048576).toFixed(0)),
      el('td', {}, String(w.restarts)),
      el('td', {}, `${w.host ?? '-'} / ${w.pid ?? '-'}`),
    );
    if (model.selected?.id === w.worker) tr.classList.add('selected');
    tr.onclick = () => select('worker', w.worker);
    wbody.append(tr);
  }
  $('workers').tBodies[0].replaceWith(wbody);
  const sbody = el('tbody');
  const rows = [...model.sessions.values()].sort(
    (a, b) => FINAL.has(a.state) - FINAL.has(b.state) || b.createdAt - a.createdAt,
  );
  for (const s of rows.slice(0, 200)) {
    const tr = el(
      'tr',
      { 'data-session': s.session, 'data-state': s.state },
      el('td', {}, s.session),
      el('td', {}, s.agent),
      el('td', {}, s.worker),
      stateCell(s.state),
      el('td', {}, secs(now - s.since)),
    );
    if (FINAL.has(s.state)) tr.classList.add('ended');
    if (model.selected?.id === s.session) tr.classList.add('selected');
    tr.onclick = () => select('session', s.session);
    sbody.append(tr);
  }
  $('sessions').tBodies[0].replaceWith(sbody);
}

async function select(kind, id) {
  if (model.selected?.id === id) return;
  model.selected = { kind, id };
  model.trail = [];
  const a = actor(id, kind);
  $('selected-title').textContent = `${kind} ${id}`;
  await drawSelected();
  renderTables();
  if (kind === 'session') {
    // Transitions from before this page opened come from the supervisor's history.
    const res = await fetch(`/api/history?session=${encodeURIComponent(id)}`);
    if (res.ok) {
      const h = await res.json();
      for (const t of h.transitions) addTransition(a, t);
      if (model.selected?.id === id) drawSelected();
    }
  }
}

async function drawChart(machine) {
  if (model.drawn === machine) return;
  const { svg } = await mermaid.render(`chart-${machine}`, model.charts[machine].mermaid);
  $('chart').innerHTML = svg;
  $('chart').dataset.machine = machine;
  model.drawn = machine;
}

/** The drawn node of a state: a simple state's node, or a composite state's cluster. */
function stateNode(machine, state) {
  const svg = $('chart').querySelector('svg');
  if (!svg) return null;
  const cluster = svg.querySelector(`g.statediagram-cluster[data-id="${CSS.escape(state)}"]`);
  if (cluster) return cluster;
  const id = new RegExp(`^chart-${machine}-state-${state}-\\d+$`);
  return [...svg.querySelectorAll('g.node')].find((g) => id.test(g.id)) ?? null;
}

/** Draws are queued: two mermaid renders of one chart at once would tear each other's SVG. */
let drawing = Promise.resolve();
function drawSelected() {
  drawing = drawing.then(drawSelectedNow, drawSelectedNow);
  return drawing;
}

async function drawSelectedNow() {
  const sel = model.selected;
  if (!sel || !model.charts) return;
  const a = model.actors.get(sel.id);
  await drawChart(sel.kind);
  const now = current(a);
  const chart = $('chart');
  for (const g of chart.querySelectorAll('g.current')) g.classList.remove('current');
  if (now) {
    stateNode(sel.kind, now.to)?.classList.add('current');
    chart.dataset.actor = sel.id;
    chart.dataset.state = now.to;
    if (model.trail[model.trail.length - 1] !== now.to) model.trail.push(now.to);
    chart.dataset.trail = model.trail.join(',');
  }
  renderTimeline(a);
}

function renderTimeline(a) {
  const body = el('tbody');
  const list = a.transitions;
  const t0 = list[0]?.ts ?? 0;
  list.forEach((t, i) => {
    const next = list[i + 1];
    const ended = FINAL.has(t.to) || (a.kind === 'worker' && ['stopped', 'failed'].includes(t.to));
    const dur = next ? `${next.ts - t.ts} ms` : ended ? 'final' : `${Date.now() - t.ts} ms…`;
    const note = typeof t.summary?.error === 'string' ? t.summary.error : '';
    body.append(
      el(
        'tr',
        { 'data-seq': String(t.seq) },
        el('td', {}, String(t.seq)),
        stateCell(t.to),
        el('td', {}, `+${t.ts - t0} ms`),
        el('td', {}, dur),
        el('td', {}, t.event),
        el('td', { class: 'error' }, note),
      ),
    );
  });
  $('timeline').tBodies[0].replaceWith(body);
}

async function main() {
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral' });
  model.charts = await (await fetch('/api/machines')).json();
  $('select-supervisor').onclick = (ev) => {
    ev.preventDefault();
    select('supervisor', 'supervisor');
  };
  const source = new EventSource('/events');
  source.addEventListener('hello', (m) => {
    model.pool = JSON.parse(m.data).pool;
    $('pool').textContent = model.pool;
  });
  source.addEventListener('status', (m) => onStatus(JSON.parse(m.data)));
  source.addEventListener('inspect', (m) => onInspect(JSON.parse(m.data)));
  source.addEventListener('problem', (m) => {
    $('conn').textContent = `pool unreachable: ${JSON.parse(m.data).message}`;
  });
  source.onopen = () => {
    $('conn').textContent = 'live';
    $('conn').classList.add('live');
  };
  source.onerror = () => {
    $('conn').textContent = 'reconnecting…';
    $('conn').classList.remove('live');
  };
  setInterval(() => {
    renderTables();
    const a = model.selected && model.actors.get(model.selected.id);
    if (a) renderTimeline(a);
  }, 1000);
}

main();
