import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { OperationsOptions } from '../runtime/pool.ts';
import { positiveInt } from './options.ts';

/** The operations flags as commander parses them (docs/operations.md). */
export interface OperationsFlags {
  config?: string;
  maxAgentSessions?: number;
  maxTenantSessions?: number;
  breaker?: { failures: number; windowMs: number; cooldownMs: number };
  observer?: string[];
  standby?: boolean;
  leaseMs?: number;
}

function breakerSpec(value: string) {
  const parts = value.split(',').map(Number);
  const [failures, windowMs, cooldownMs] = parts;
  if (parts.length !== 3 || !parts.every((n) => Number.isInteger(n) && n > 0)) {
    throw new InvalidArgumentError(
      `--breaker must be FAILURES,WINDOW_MS,COOLDOWN_MS (three positive integers), got '${value}'`,
    );
  }
  return { failures: failures as number, windowMs: windowMs as number, cooldownMs: cooldownMs as number };
}

export function addOperationsOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--max-agent-sessions <n>',
        'cap on concurrent sessions of each agent (over: over_limit)',
      ).argParser(positiveInt('--max-agent-sessions')),
    )
    .addOption(
      new Option(
        '--max-tenant-sessions <n>',
        "cap on concurrent sessions of each tenant (job metadata's 'tenant'; over: over_limit)",
      ).argParser(positiveInt('--max-tenant-sessions')),
    )
    .addOption(
      new Option(
        '--breaker <failures,windowMs,cooldownMs>',
        'per-agent circuit breaker: open after FAILURES failed sessions within WINDOW_MS, probe after COOLDOWN_MS',
      ).argParser(breakerSpec),
    )
    .addOption(
      new Option('--observer <file...>', 'session observer module(s): get session start and end events'),
    )
    .addOption(
      new Option(
        '--standby',
        'wait for the leadership lease (JetStream KV) and take over the pool when its supervisor is gone',
      ),
    )
    .addOption(
      new Option('--lease-ms <ms>', 'leadership lease lifetime without renewal (default 1500)').argParser(
        positiveInt('--lease-ms'),
      ),
    );
}

/** Limits, breaker and observers from `--config`, then the flags on top. */
export async function operationsOptions(opts: OperationsFlags): Promise<OperationsOptions | undefined> {
  const { loadPoolConfig } = await import('../runtime/config.ts');
  const file = opts.config ? await loadPoolConfig(opts.config) : undefined;
  const limits = {
    ...file?.limits,
    ...(opts.maxAgentSessions !== undefined ? { perAgent: opts.maxAgentSessions } : {}),
    ...(opts.maxTenantSessions !== undefined ? { perTenant: opts.maxTenantSessions } : {}),
  };
  const breaker = opts.breaker ?? file?.breaker;
  const observers = [...(file?.observers ?? []), ...(opts.observer ?? []).map((f) => resolve(f))];
  const out: OperationsOptions = {
    ...(opts.standby ? { standby: true } : {}),
    ...(opts.leaseMs !== undefined ? { lease: { ttlMs: opts.leaseMs } } : {}),
    // A supervisor that lost its lease has already stopped commanding; it exits (code 3) so
    // nothing of it lingers. Its local workers drain when they see it gone.
    onLeadershipLost: (reason) => {
      process.stderr.write(`openrtc: leadership lost (${reason}); another supervisor leads this pool\n`);
      process.exit(3);
    },
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(breaker ? { breaker } : {}),
    ...(observers.length ? { observers } : {}),
  };
  return out;
}
