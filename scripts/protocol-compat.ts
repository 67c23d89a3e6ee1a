/**
 * Compares two sets of message JSON Schemas (a released snapshot and the current build) and lists
 * the changes that break a peer still speaking the released version. Pure: no IO.
 *
 * Breaking: a removed message type, a removed field, a new required field (or an optional one made
 * required), a field whose JSON type no longer admits the old values, and a removed enum value.
 * Not breaking: a new type, a new optional field, a widened type or enum. Narrowed lengths,
 * bounds and patterns are not detected.
 */

export type JsonSchema = { [keyword: string]: unknown };

export type BreakKind =
  | 'removed_type'
  | 'removed_field'
  | 'new_required_field'
  | 'changed_type'
  | 'removed_enum_value';

export interface Break {
  kind: BreakKind;
  /** The message type. */
  type: string;
  /** Where in the message: `sessions[].state`, `transport.job.*`; empty for the whole message. */
  path: string;
  detail: string;
}

/** Every breaking change from `released` to `current` (both: message type → JSON Schema). */
export function findBreakingChanges(
  released: Record<string, JsonSchema>,
  current: Record<string, JsonSchema>,
): Break[] {
  const breaks: Break[] = [];
  for (const type of Object.keys(released).sort()) {
    const before = released[type] as JsonSchema;
    const after = current[type];
    if (!after) {
      breaks.push({ kind: 'removed_type', type, path: '', detail: `message type '${type}' was removed` });
      continue;
    }
    breaks.push(
      ...compare(type, { node: before, root: before }, { node: after, root: after }, '', new Set()),
    );
  }
  return breaks;
}

/**
 * Problems with shipping `current` after the `released` snapshot. A breaking change needs a new
 * PROTOCOL_VERSION, and the build must stop claiming to read the released version: the codec
 * validates every supported version against the one current schema set.
 */
export function compatibilityProblems(
  released: { version: number; types: Record<string, JsonSchema> },
  current: Record<string, JsonSchema>,
  build: { version: number; supported: { min: number; max: number } },
): string[] {
  if (build.version < released.version) {
    return [`PROTOCOL_VERSION ${build.version} is older than the released v${released.version}`];
  }
  const breaks = findBreakingChanges(released.types, current);
  if (breaks.length === 0) return [];
  const fix =
    build.version === released.version
      ? `bump PROTOCOL_VERSION past ${released.version}`
      : build.supported.min <= released.version
        ? `SUPPORTED_VERSIONS.min must exceed ${released.version}: this build cannot read it any more`
        : null;
  if (!fix) return [];
  return breaks.map(
    (b) => `${b.type}${b.path ? ` ${b.path}` : ''}: ${b.kind}: ${b.detail} (breaking: ${fix})`,
  );
}

interface At {
  node: unknown;
  root: JsonSchema;
}

function compare(type: string, a: At, b: At, path: string, seen: Set<string>): Break[] {
  const before = deref(a);
  const after = deref(b);
  // Recursive definitions (JSON values) refer back to themselves: a pair of references already
  // being compared further up this branch is assumed compatible (the usual rule for recursive types).
  if (refOf(a.node) && refOf(b.node)) {
    const key = `${refOf(a.node)}|${refOf(b.node)}`;
    if (seen.has(key)) return [];
    seen = new Set(seen).add(key);
  }
  if (!isObject(before) || !isObject(after)) return [];

  const beforeBranches = branches(before);
  const afterBranches = branches(after);
  if (beforeBranches.length > 1 || afterBranches.length > 1) {
    // Each old alternative must still be accepted by some new one; report the closest miss.
    const out: Break[] = [];
    for (const old of beforeBranches) {
      let best: Break[] | null = null;
      for (const candidate of afterBranches) {
        const found = compare(
          type,
          { node: old, root: a.root },
          { node: candidate, root: b.root },
          path,
          seen,
        );
        if (best === null || found.length < best.length) best = found;
        if (found.length === 0) break;
      }
      out.push(...(best ?? []));
    }
    return out;
  }

  const out: Break[] = [];
  const where = path || '(root)';
  const typesBefore = jsonTypes(before);
  const typesAfter = jsonTypes(after);
  if (typesBefore && typesAfter) {
    const lost = [...typesBefore].filter((t) => !admits(typesAfter, t));
    if (lost.length > 0) {
      out.push({
        kind: 'changed_type',
        type,
        path,
        detail: `${where} was ${[...typesBefore].join('|')}, is now ${[...typesAfter].join('|')}`,
      });
    }
  }
  const enumBefore = enumOf(before);
  const enumAfter = enumOf(after);
  if (enumBefore && enumAfter) {
    for (const value of enumBefore) {
      if (!enumAfter.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
        out.push({
          kind: 'removed_enum_value',
          type,
          path,
          detail: `${where} no longer accepts ${JSON.stringify(value)}`,
        });
      }
    }
  }

  const propsBefore = (before.properties ?? {}) as Record<string, unknown>;
  const propsAfter = (after.properties ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(propsBefore)) {
    const fieldPath = path ? `${path}.${name}` : name;
    if (!(name in propsAfter)) {
      out.push({ kind: 'removed_field', type, path: fieldPath, detail: `field ${fieldPath} was removed` });
      continue;
    }
    out.push(
      ...compare(
        type,
        { node: propsBefore[name], root: a.root },
        { node: propsAfter[name], root: b.root },
        fieldPath,
        seen,
      ),
    );
  }
  const requiredBefore = new Set((before.required ?? []) as string[]);
  for (const name of (after.required ?? []) as string[]) {
    if (!requiredBefore.has(name)) {
      const fieldPath = path ? `${path}.${name}` : name;
      const was = name in propsBefore ? 'was optional' : 'is new';
      out.push({
        kind: 'new_required_field',
        type,
        path: fieldPath,
        detail: `field ${fieldPath} is required and ${was}`,
      });
    }
  }
  for (const [keyword, suffix] of [
    ['items', '[]'],
    ['additionalProperties', '.*'],
  ] as const) {
    if (isObject(before[keyword]) && isObject(after[keyword])) {
      out.push(
        ...compare(
          type,
          { node: before[keyword], root: a.root },
          { node: after[keyword], root: b.root },
          `${path}${suffix}`,
          seen,
        ),
      );
    }
  }
  return out;
}

function isObject(x: unknown): x is JsonSchema {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function refOf(node: unknown): string {
  return isObject(node) && typeof node.$ref === 'string' ? node.$ref : '';
}

/** Follows local `#/$defs/...` references. */
function deref(at: At): unknown {
  let node = at.node;
  for (let hops = 0; hops < 32 && refOf(node).startsWith('#/'); hops++) {
    node = refOf(node)
      .slice(2)
      .split('/')
      .reduce<unknown>((n, part) => (isObject(n) ? n[part] : undefined), at.root);
  }
  return node;
}

function branches(schema: JsonSchema): unknown[] {
  const union = schema.oneOf ?? schema.anyOf;
  return Array.isArray(union) ? union : [schema];
}

function jsonTypes(schema: JsonSchema): Set<string> | null {
  if (typeof schema.type === 'string') return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type as string[]);
  return null;
}

function admits(types: Set<string>, type: string): boolean {
  return types.has(type) || (type === 'integer' && types.has('number'));
}

function enumOf(schema: JsonSchema): unknown[] | null {
  if (Array.isArray(schema.enum)) return schema.enum;
  if ('const' in schema) return [schema.const];
  return null;
}
