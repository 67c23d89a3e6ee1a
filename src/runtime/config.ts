import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
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

const Cap = z.number().int().positive();

/** Caps on concurrent sessions (docs/operations.md). */
export const LimitsSchema = z
  .object({
    agents: z.record(z.string().min(1), Cap).optional(),
    perAgent: Cap.optional(),
    tenants: z.record(z.string().min(1), Cap).optional(),
    perTenant: Cap.optional(),
    /** Key of the job metadata (a JSON object) that names the tenant. Default `tenant`. */
    tenantKey: z.string().min(1).optional(),
  })
  .strict();
export type LimitsConfig = z.infer<typeof LimitsSchema>;

/** The per-agent circuit breaker (docs/operations.md). */
export const BreakerSchema = z.object({ failures: Cap, windowMs: Cap, cooldownMs: Cap }).strict();
export type BreakerConfig = z.infer<typeof BreakerSchema>;

/** The `--config` file: JSON. Unknown keys are errors, so a typo is never silently ignored. */
export const PoolConfigSchema = z
  .object({
    defaults: PoolDefaultsSchema.optional(),
    limits: LimitsSchema.optional(),
    breaker: BreakerSchema.optional(),
    /** Retention of the durable record of ended sessions (JetStream stream), or false for none. */
    record: z
      .union([z.object({ maxSessions: Cap.optional(), maxAgeMs: Cap.optional() }).strict(), z.literal(false)])
      .optional(),
    /** Session observer modules, relative to the config file (docs/operations.md). */
    observers: z.array(z.string().min(1)).max(100).optional(),
  })
  .strict();
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
  const { observers } = parsed.data;
  if (!observers) return parsed.data;
  // Observer paths are relative to the file that names them.
  return { ...parsed.data, observers: observers.map((o) => resolve(dirname(path), o)) };
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
