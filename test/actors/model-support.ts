import { expect } from 'vitest';
import {
  type AnyActorRef,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  createActor,
  type EventObject,
  fromPromise,
  __unsafe_getAllOwnEventDescriptors as ownEvents,
  SimulatedClock,
} from 'xstate';
import { getAdjacencyMap, getShortestPaths } from 'xstate/graph';
import { transitionLabel } from '../../src/actors/diagram.ts';

/** An event with any payload, as a model lists them. */
export type ModelEvent = EventObject & Record<string, unknown>;

/** Promise actors whose outcome the test decides: one pending call per actor name. */
export class Deferreds {
  private pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  readonly calls: { name: string; input: unknown }[] = [];

  actor<O, I>(name: string) {
    return fromPromise<O, I>(
      ({ input }) =>
        new Promise<O>((resolve, reject) => {
          this.pending.set(name, { resolve: resolve as (v: unknown) => void, reject });
          this.calls.push({ name, input });
        }),
    );
  }

  settle(name: string, how: 'resolve' | 'reject', value: unknown): void {
    const p = this.pending.get(name);
    if (!p) throw new Error(`no pending '${name}' call to ${how}`);
    this.pending.delete(name);
    p[how](value);
  }
}

/**
 * The events to try in a state: every event it handles, with the payloads given for that type
 * (or none). A done actor takes no events, as a real one ignores them.
 */
export function eventsFrom(payloads: readonly ModelEvent[]) {
  return (state: AnyMachineSnapshot): EventObject[] =>
    state.status !== 'active'
      ? []
      : ownEvents(state).flatMap((type) => {
          const given = payloads.filter((p) => p.type === type);
          return given.length > 0 ? given : [{ type }];
        });
}

/**
 * Traversal options: a state is its value plus its context without the `ignore` keys (a
 * transition counter would make a cycle such as ready ⇄ full look infinite). The limit turns a
 * runaway traversal into an error instead of an exhausted heap.
 */
export function traversal(input: unknown, events: readonly ModelEvent[], ignore: readonly string[] = []) {
  return {
    input,
    events: eventsFrom(events),
    limit: 200_000,
    serializeState: (state: AnyMachineSnapshot) => {
      return JSON.stringify({ value: state.value, context: without(state.context, ignore) });
    },
  };
}

function without(context: Record<string, unknown>, ignore: readonly string[]) {
  return Object.fromEntries(Object.entries(context).filter(([k]) => !ignore.includes(k)));
}

/** Lets settled promises reach the actor. */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface Sut {
  actor: AnyActorRef;
  clock: SimulatedClock;
  deferreds: Deferreds;
}

/**
 * Replays one model event on a real actor: done/error events settle the matching promise actor,
 * `after` events advance the simulated clock by the delay the machine itself computes, anything
 * else is sent as it is.
 */
export async function replay(machine: AnyStateMachine, sut: Sut, event: EventObject): Promise<void> {
  const done = /^xstate\.done\.actor\.(.+)$/.exec(event.type);
  const error = /^xstate\.error\.actor\.(.+)$/.exec(event.type);
  const after = /^xstate\.after\.([^.]+)\./.exec(event.type);
  if (done) sut.deferreds.settle(done[1] as string, 'resolve', (event as { output?: unknown }).output);
  else if (error) sut.deferreds.settle(error[1] as string, 'reject', (event as { error?: unknown }).error);
  else if (after) {
    const delay = (machine.implementations.delays as Record<string, unknown>)[after[1] as string];
    const { context } = sut.actor.getSnapshot();
    const ms = typeof delay === 'function' ? delay({ context, event }) : Number(delay);
    sut.clock.increment(ms);
  } else sut.actor.send(event);
  await flush();
}

/**
 * Model-based test: for every state (value and context) the pure machine can reach with these
 * events, replays the shortest path to it on a real actor and checks the actor ends up in
 * exactly that state and context. Returns how many paths ran.
 */
export async function runShortestPaths(
  machine: AnyStateMachine,
  input: unknown,
  events: readonly ModelEvent[],
  makeSut: () => Sut,
  ignore: readonly string[] = [],
): Promise<number> {
  const paths = getShortestPaths(machine, traversal(input, events, ignore));
  for (const path of paths) {
    const sut = makeSut();
    sut.actor.start();
    await flush();
    for (const step of path.steps.slice(1)) await replay(machine, sut, step.event);
    const actual = sut.actor.getSnapshot();
    const where = path.steps.map((s) => s.event.type).join(' → ');
    expect(actual.value, where).toEqual(path.state.value);
    expect(without(actual.context, ignore), where).toEqual(without(path.state.context, ignore));
    sut.actor.stop();
  }
  return paths.length;
}

function nodesOf(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap((n) => nodesOf(n as AnyStateNode))];
}

/**
 * Which state nodes and which transitions (every `on`, `after`, done and error transition of
 * every node, guarded alternatives counted apart) no reachable state exercises.
 */
export function uncovered(
  machine: AnyStateMachine,
  runs: { input: unknown; events: readonly ModelEvent[] }[],
  ignore: readonly string[] = [],
) {
  const nodes = nodesOf(machine.root);
  const all = new Map<AnyTransitionDefinition, string>();
  for (const node of nodes) {
    for (const t of [...node.transitions.values()].flat()) {
      all.set(t, `${node.id}: ${transitionLabel(t)} → ${t.target?.map((x) => x.id).join(',') ?? '(stays)'}`);
    }
    for (const t of node.always ?? []) all.set(t, `${node.id}: always`);
  }
  const reached = new Set<string>();
  const taken = new Set<AnyTransitionDefinition>();
  for (const run of runs) {
    const adjacency = getAdjacencyMap(machine, traversal(run.input, run.events, ignore));
    for (const { state, transitions } of Object.values(adjacency)) {
      for (const n of state._nodes) reached.add(n.id);
      for (const { event } of Object.values(transitions) as { event: EventObject }[]) {
        for (const t of machine.getTransitionData(state, event)) taken.add(t);
      }
    }
  }
  return {
    states: nodes.map((n) => n.id).filter((id) => !reached.has(id)),
    transitions: [...all].filter(([t]) => !taken.has(t)).map(([, label]) => label),
  };
}

export { createActor, SimulatedClock };
