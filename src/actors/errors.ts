/** A default for an injected actor or action the runtime must supply via `machine.provide`. */
export function notProvided(name: string): never {
  throw new Error(`'${name}' is not provided: supply it with machine.provide()`);
}
