import { formatPath } from './errors.ts';

/** Deepest nesting of objects and arrays a message may have; validators recurse, stacks are finite. */
export const MAX_NESTING_DEPTH = 64;

/** Where and why a value is not plain JSON data, or null when it is. */
export interface NotPlain {
  path: string;
  what: string;
}

/**
 * Checks that a value survives JSON unchanged: only null, booleans, finite numbers, strings,
 * arrays and plain objects. Functions, class instances (Map, Set, Date, Error...), BigInt,
 * undefined, symbols, NaN/Infinity, cycles, `__proto__` keys (JSON readers drop them) and nesting
 * deeper than MAX_NESTING_DEPTH are refused with the path where they sit.
 */
export function findNotPlain(value: unknown): NotPlain | null {
  const path: PropertyKey[] = [];
  const stack = new Set<object>();

  function visit(v: unknown): NotPlain | null {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return null;
      case 'number':
        return Number.isFinite(v) ? null : { path: formatPath(path), what: String(v) };
      case 'undefined':
        return { path: formatPath(path), what: 'undefined (omit the key instead)' };
      case 'bigint':
        return { path: formatPath(path), what: 'a BigInt' };
      case 'symbol':
        return { path: formatPath(path), what: 'a symbol' };
      case 'function':
        return { path: formatPath(path), what: `a function${v.name ? ` (${v.name})` : ''}` };
    }
    if (v === null) return null;
    const obj = v as object;
    if (stack.has(obj)) return { path: formatPath(path), what: 'a cycle' };
    if (stack.size >= MAX_NESTING_DEPTH) {
      return { path: formatPath(path), what: `nested deeper than ${MAX_NESTING_DEPTH} levels` };
    }
    const isArray = Array.isArray(obj);
    if (!isArray) {
      const proto = Object.getPrototypeOf(obj);
      if (proto !== Object.prototype && proto !== null) {
        const name = (proto?.constructor as { name?: string } | undefined)?.name ?? 'unknown';
        return { path: formatPath(path), what: `an instance of ${name}` };
      }
      if (Object.getOwnPropertySymbols(obj).length > 0) {
        return { path: formatPath(path), what: 'an object with symbol keys' };
      }
    }
    stack.add(obj);
    try {
      if (isArray) {
        const arr = obj as unknown[];
        for (let i = 0; i < arr.length; i++) {
          path.push(i);
          const bad = i in arr ? visit(arr[i]) : { path: formatPath(path), what: 'a hole in an array' };
          path.pop();
          if (bad) return bad;
        }
      } else {
        for (const key of Object.keys(obj)) {
          path.push(key);
          const bad =
            key === '__proto__'
              ? { path: formatPath(path), what: 'a __proto__ key (JSON readers drop it)' }
              : visit((obj as Record<string, unknown>)[key]);
          path.pop();
          if (bad) return bad;
        }
      }
      return null;
    } finally {
      stack.delete(obj);
    }
  }

  return visit(value);
}

/** Path of the first object or array nested deeper than `limit`, or null. Iterative: safe on any depth. */
export function findTooDeep(value: unknown, limit = MAX_NESTING_DEPTH): string | null {
  const todo: { v: unknown; path: PropertyKey[] }[] = [{ v: value, path: [] }];
  while (todo.length > 0) {
    const { v, path } = todo.pop() as { v: unknown; path: PropertyKey[] };
    if (typeof v !== 'object' || v === null) continue;
    if (path.length >= limit) return formatPath(path);
    const entries: [PropertyKey, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [i, item])
      : Object.entries(v as Record<string, unknown>);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [PropertyKey, unknown];
      todo.push({ v: item, path: [...path, key] });
    }
  }
  return null;
}
