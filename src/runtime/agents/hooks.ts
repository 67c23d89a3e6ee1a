import { register } from 'node:module';
import { RUN_FROM } from '../run-from.ts';

/**
 * The query that marks an agent module's URL (`file:///…/hello.ts?openrtc-agent`), so the loader
 * hook below knows which imports an agent module makes itself. `fileURLToPath(import.meta.url)`
 * ignores it.
 */
export const AGENT_MARK = 'openrtc-agent';

/** Where the shim of an agent module reports its `cli.runApp(options)` call: (module URL, options). */
export const RUN_APP_NOTE = Symbol.for('openrtc.agentsJs.runApp');

/**
 * Node module hooks (in their own thread, so plain JavaScript in a string):
 * - `@livekit/agents` imported by an agent module resolves to a shim: every export of the real
 *   module (the same instance), except `cli`, whose `runApp` only reports its options. An agents-js
 *   module ends with `cli.runApp(new ServerOptions({ agent: ... }))`, which would otherwise start
 *   agents-js's own CLI inside our process (it parses our argv and exits).
 * - When openrtc runs from its sources, `openrtc` and `openrtc/*` resolve with the
 *   `openrtc-source` condition (package.json exports): src/ instead of dist/.
 */
const HOOKS = `
let source = false;
export function initialize(data) { source = Boolean(data && data.source); }
const MARK = ${JSON.stringify(AGENT_MARK)};
const NOTE = ${JSON.stringify(RUN_APP_NOTE.description)};
function marked(url) {
  const q = url ? url.indexOf('?') : -1;
  return q >= 0 && new URLSearchParams(url.slice(q + 1)).has(MARK);
}
function shim(real, parent) {
  return [
    'import * as real from ' + JSON.stringify(real) + ';',
    'export * from ' + JSON.stringify(real) + ';',
    'export const cli = Object.freeze({ ...real.cli, runApp(options) {',
    '  const note = globalThis[Symbol.for(' + JSON.stringify(NOTE) + ')];',
    '  if (typeof note === "function") note(' + JSON.stringify(parent) + ', options);',
    '} });',
  ].join('\\n');
}
export async function resolve(specifier, context, next) {
  if (source && (specifier === 'openrtc' || specifier.startsWith('openrtc/'))) {
    context = { ...context, conditions: [...context.conditions, 'openrtc-source'] };
  }
  if (specifier === '@livekit/agents' && marked(context.parentURL)) {
    const real = await next(specifier, context);
    const url = 'data:text/javascript,' + encodeURIComponent(shim(real.url, context.parentURL));
    return { url, format: 'module', shortCircuit: true };
  }
  return next(specifier, context);
}
`;

const INSTALLED = Symbol.for('openrtc.agentHooks');

/** Installs the hooks once per process (Node ≥ 20.6). Under vitest, agent modules load through vite instead. */
export function installAgentHooks(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[INSTALLED]) return;
  g[INSTALLED] = true;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url, {
    data: { source: RUN_FROM === 'src' },
  });
}
