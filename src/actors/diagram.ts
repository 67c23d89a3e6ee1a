import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

/**
 * Drawings of a machine, made from the same value that runs: a mermaid stateDiagram-v2, the
 * machine's JSON definition, and a markdown section that explains each state and what leaves it.
 * All three are deterministic, so checked-in copies can be compared with a fresh export.
 */

export interface Edge {
  from: AnyStateNode;
  to: AnyStateNode | null;
  label: string;
}

/** A readable label for a transition: event (or `after <delay>`, `done <actor>`...) and guard. */
export function transitionLabel(t: AnyTransitionDefinition): string {
  const type = String(t.eventType);
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  const event =
    type === ''
      ? 'always'
      : after
        ? `after ${after[1]}`
        : type.startsWith('xstate.done.actor.')
          ? `done ${type.slice('xstate.done.actor.'.length)}`
          : type.startsWith('xstate.error.actor.')
            ? `error ${type.slice('xstate.error.actor.'.length)}`
            : type;
  const guard = guardName(t.guard);
  const actions = t.actions.map(actionName).filter((a): a is string => a !== null);
  const ignored = !t.target?.length && actions.length === 0 ? ' (ignored)' : '';
  return `${event}${guard ? ` [${guard}]` : ''}${actions.length ? ` / ${actions.join(', ')}` : ''}${ignored}`;
}

/** Named actions only: xstate's own (assign, raise...) and inline functions say nothing here. */
function actionName(action: unknown): string | null {
  const type = typeof action === 'string' ? action : (action as { type?: unknown } | null)?.type;
  return typeof type === 'string' && !type.startsWith('xstate.') ? type : null;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'inline guard';
}

function children(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states) as AnyStateNode[];
}

function ownTransitions(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
}

/**
 * Every drawn edge. Transitions of the root apply in each top-level state that is not final and
 * does not handle the event itself, so they are drawn from each such state.
 */
export function machineEdges(machine: AnyStateMachine): Edge[] {
  const edges: Edge[] = [];
  const visit = (node: AnyStateNode) => {
    for (const t of ownTransitions(node))
      edges.push({ from: node, to: t.target?.[0] ?? null, label: transitionLabel(t) });
    children(node).forEach(visit);
  };
  children(machine.root).forEach(visit);
  for (const t of ownTransitions(machine.root)) {
    const target = t.target?.[0];
    if (!target) continue;
    for (const node of children(machine.root)) {
      if (node.type === 'final' || node.transitions.has(String(t.eventType))) continue;
      edges.push({ from: node, to: target, label: transitionLabel(t) });
    }
  }
  return edges;
}

/** Root transitions without a target: handled in every state, drawn as a note. */
function rootInternal(machine: AnyStateMachine): string[] {
  return ownTransitions(machine.root)
    .filter((t) => !t.target?.length)
    .map(transitionLabel);
}

function allNodes(machine: AnyStateMachine): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  const visit = (node: AnyStateNode) => {
    out.push(node);
    children(node).forEach(visit);
  };
  children(machine.root).forEach(visit);
  return out;
}

function namer(machine: AnyStateMachine): (node: AnyStateNode) => string {
  const nodes = allNodes(machine);
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.key, (counts.get(n.key) ?? 0) + 1);
  return (n) => ((counts.get(n.key) ?? 0) > 1 ? n.path.join('_') : n.key);
}

function within(node: AnyStateNode, ancestor: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The machine as a mermaid stateDiagram-v2. */
export function machineToMermaid(machine: AnyStateMachine): string {
  const name = namer(machine);
  const lines = ['stateDiagram-v2'];
  const edges = machineEdges(machine);
  const draw = (node: AnyStateNode, indent: string) => {
    const initial = node.initial?.target?.[0];
    if (initial) lines.push(`${indent}[*] --> ${name(initial)}`);
    for (const child of children(node)) {
      for (const inv of child.invoke) lines.push(`${indent}${name(child)}: invokes ${String(inv.src)}`);
      if (children(child).length > 0) {
        lines.push(`${indent}state ${name(child)} {`);
        draw(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
    }
    for (const child of children(node)) {
      // An edge is drawn inside a composite only when both ends live there; mermaid would
      // otherwise create a second state of the same name inside the composite.
      for (const e of edges.filter((x) => x.from === child)) {
        const local = node === machine.root || !e.to || within(e.to, node);
        (local ? lines : outer).push(
          `${local ? indent : '  '}${name(e.from)} --> ${name(e.to ?? e.from)}: ${e.label}`,
        );
      }
      if (child.type === 'final') lines.push(`${indent}${name(child)} --> [*]`);
    }
  };
  const outer: string[] = [];
  draw(machine.root, '  ');
  lines.push(...outer);
  const internal = rootInternal(machine);
  const first = machine.root.initial?.target?.[0];
  if (internal.length > 0 && first) {
    lines.push(
      `  note right of ${name(first)}`,
      '    In every state:',
      ...internal.map((l) => `    ${l}`),
      '  end note',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The machine's definition (machine.toJSON(), plus eventless transitions) as stable JSON text. */
export function machineToJSON(machine: AnyStateMachine): string {
  const definition = JSON.parse(JSON.stringify(machine.toJSON())) as Record<string, unknown>;
  const addAlways = (node: AnyStateNode, json: Record<string, unknown>) => {
    if (node.always?.length) json.always = JSON.parse(JSON.stringify(node.always.map((t) => t.toJSON())));
    const states = json.states as Record<string, Record<string, unknown>>;
    for (const child of children(node)) {
      const childJson = states[child.key];
      if (childJson) addAlways(child, childJson);
    }
  };
  addAlways(machine.root, definition);
  return `${JSON.stringify(definition, null, 2)}\n`;
}

/** A markdown section: what each state does and which event or timeout leaves it, then the diagram. */
export function machineToMarkdown(title: string, machine: AnyStateMachine, notes = ''): string {
  const edges = machineEdges(machine);
  const rows = allNodes(machine).map((node) => {
    const leaves = edges
      .filter((e) => e.from === node)
      .map((e) =>
        e.to && e.to !== node
          ? `${e.label} → ${e.to.key}`
          : e.label.endsWith('(ignored)')
            ? e.label
            : `${e.label} (stays)`,
      );
    const exits = node.type === 'final' ? 'final' : leaves.join('; ') || 'see its inner states';
    const what = (node.description ?? '').replaceAll('|', '\\|');
    return `| \`${node.path.join('.')}\` | ${what} | ${exits.replaceAll('|', '\\|')} |`;
  });
  const internal = rootInternal(machine);
  return [
    `## ${title}`,
    '',
    machine.root.description ?? '',
    '',
    '| State | What happens there | Left by |',
    '| --- | --- | --- |',
    ...rows,
    '',
    ...(internal.length
      ? [`Handled in every state: ${internal.map((l) => `\`${l}\``).join(', ')}.`, '']
      : []),
    ...(notes ? [notes.trim(), ''] : []),
    '```mermaid',
    machineToMermaid(machine).trimEnd(),
    '```',
    '',
  ].join('\n');
}
