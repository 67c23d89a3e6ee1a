import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { type AgentSpec, Greeting, ProviderDefaults, SessionLimits } from '../protocol/agent.ts';

/** Pool-wide defaults for the agents that leave them unset. */
export const PoolDefaultsSchema = z
  .object({
    greeting: Greeting.optional(),
    greetingRequired: z.boolean().optional(),
    limits: SessionLimits.strict().optional(),
    providers: ProviderDefaults.strict().optional(),
  })
  .strict();
export type PoolDefaultsConfig = z.infer<typeof PoolDefaultsSchema>;

/** The `--config` file: JSON. Unknown keys are errors, so a typo is never silently ignored. */
export const PoolConfigSchema = z.object({ defaults: PoolDefaultsSchema.optional() }).strict();
export type PoolConfig = z.infer<typeof PoolConfigSchema>;

/** A config file that cannot be used: names the file and what is wrong where. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates a pool config file. */
export async function loadPoolConfig(path: string): Promise<PoolConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `config file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = PoolConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`config file ${path}: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`);
  }
  return parsed.data;
}

/** Fills each agent's unset greeting, limits and providers from the pool defaults; the agent wins. */
export function applyPoolDefaults(
  specs: readonly AgentSpec[],
  defaults: PoolDefaultsConfig | undefined,
): AgentSpec[] {
  if (!defaults) return [...specs];
  return specs.map((spec) => {
    const greeting = spec.greeting ?? defaults.greeting;
    const limits = {
      ...defaults.limits,
      ...(defaults.greetingRequired !== undefined ? { greetingRequired: defaults.greetingRequired } : {}),
      ...spec.limits,
    };
    const providers = { ...defaults.providers, ...spec.providers };
    return {
      ...spec,
      ...(greeting ? { greeting } : {}),
      ...(Object.keys(limits).length ? { limits } : {}),
      ...(Object.keys(providers).length ? { providers } : {}),
    };
  });
}
