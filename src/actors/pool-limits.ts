import type { ErrorData, SessionState } from '../protocol/index.ts';
import { type Draft, emit, isLive } from './pool.ts';
import type { SupervisorContext } from './supervisor.types.ts';

/**
 * Admission control, pure like every pool reducer: caps on concurrent sessions per agent and per
 * tenant, and a circuit breaker per agent. Time is the supervisor's `now` (from events), so the
 * breaker runs on a simulated clock in tests exactly as on the wall clock.
 */

/** Caps on concurrent (live) sessions. An absent cap is no cap. */
export interface LimitsConfig {
  /** Cap per agent name. */
  agents: Record<string, number>;
  /** Cap for every agent not named in `agents`. */
  perAgent?: number;
  /** Cap per tenant. */
  tenants: Record<string, number>;
  /** Cap for every tenant not named in `tenants`. */
  perTenant?: number;
  /** The key of the job metadata (a JSON object) that names the tenant. Default `tenant`. */
  tenantKey: string;
}

/** The per-agent circuit breaker: `failures` failed sessions within `windowMs` open it for `cooldownMs`. */
export interface BreakerConfig {
  failures: number;
  windowMs: number;
  cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerView {
  state: BreakerState;
  /** Times of the failures inside the window (closed), oldest first. */
  failures: number[];
  /** When it last opened; null while it never did. */
  openedAt: number | null;
  /** The probe session let through while half open; null while none runs. */
  probe: string | null;
}

export function resolveLimits(input: Partial<LimitsConfig> | undefined): LimitsConfig {
  return {
    agents: input?.agents ?? {},
    tenants: input?.tenants ?? {},
    tenantKey: input?.tenantKey ?? 'tenant',
    ...(input?.perAgent !== undefined ? { perAgent: input.perAgent } : {}),
    ...(input?.perTenant !== undefined ? { perTenant: input.perTenant } : {}),
  };
}

/** The tenant a job's metadata names (a JSON object with a string at `key`); undefined otherwise. */
export function tenantOf(metadata: string | undefined, key: string): string | undefined {
  if (metadata?.[0] !== '{') return undefined;
  try {
    const value = (JSON.parse(metadata) as Record<string, unknown>)[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

const CLOSED: BreakerView = { state: 'closed', failures: [], openedAt: null, probe: null };

export function breakerOf(ctx: SupervisorContext, agent: string): BreakerView {
  return ctx.breakers[agent] ?? CLOSED;
}

function setBreaker(d: Draft, agent: string, next: BreakerView, reason: string): void {
  const previous = breakerOf(d.ctx, agent);
  d.ctx.breakers = { ...d.ctx.breakers, [agent]: next };
  if (previous.state !== next.state) {
    emit(d, {
      type: 'agent.breaker',
      agent,
      state: next.state,
      previous: previous.state,
      failures: next.failures.length,
      reason,
    });
  }
}

/** An open breaker whose cool-down has passed becomes half open (it lets one probe through). */
function cooled(d: Draft, agent: string): BreakerView {
  const b = breakerOf(d.ctx, agent);
  const cfg = d.ctx.breaker;
  if (!cfg || b.state !== 'open' || b.openedAt === null || d.ctx.now - b.openedAt < cfg.cooldownMs) return b;
  const next: BreakerView = { ...b, state: 'half_open', probe: null };
  setBreaker(d, agent, next, `cool-down of ${cfg.cooldownMs} ms passed: one probe session may start`);
  return next;
}

/** Every open breaker past its cool-down becomes half open (the loss-check tick calls this). */
export function breakerTick(d: Draft): void {
  for (const agent of Object.keys(d.ctx.breakers)) cooled(d, agent);
}

/**
 * Why a new session of `agent` (for `tenant`) may not start now, or undefined when it may: the
 * breaker first (open, or half open with its probe still running), then the caps.
 */
export function admissionRefusal(d: Draft, agent: string, tenant: string | undefined): ErrorData | undefined {
  if (d.ctx.breaker) {
    const b = cooled(d, agent);
    if (b.state === 'open') {
      const wait = d.ctx.breaker.cooldownMs - (d.ctx.now - (b.openedAt ?? d.ctx.now));
      return {
        code: 'agent_unhealthy',
        message: `agent ${agent} is unhealthy: its circuit breaker is open after ${d.ctx.breaker.failures} failed sessions within ${d.ctx.breaker.windowMs} ms; a probe session is let through in ${Math.max(0, wait)} ms`,
        details: { agent, breaker: 'open' },
      };
    }
    if (b.state === 'half_open' && b.probe !== null) {
      return {
        code: 'agent_unhealthy',
        message: `agent ${agent} is unhealthy: its circuit breaker is half open and probe session ${b.probe} is still running`,
        details: { agent, breaker: 'half_open', probe: b.probe },
      };
    }
  }
  const { limits } = d.ctx;
  const agentCap = limits.agents[agent] ?? limits.perAgent;
  const tenantCap = tenant === undefined ? undefined : (limits.tenants[tenant] ?? limits.perTenant);
  if (agentCap === undefined && tenantCap === undefined) return undefined;
  let ofAgent = 0;
  let ofTenant = 0;
  for (const s of Object.values(d.ctx.sessions)) {
    if (!isLive(s)) continue;
    if (s.agent === agent) ofAgent++;
    if (tenant !== undefined && s.tenant === tenant) ofTenant++;
  }
  if (agentCap !== undefined && ofAgent >= agentCap) {
    return {
      code: 'over_limit',
      message: `agent ${agent} is at its cap of ${agentCap} concurrent sessions`,
      details: { agent, limit: agentCap, active: ofAgent },
    };
  }
  if (tenant !== undefined && tenantCap !== undefined && ofTenant >= tenantCap) {
    return {
      code: 'over_limit',
      message: `tenant ${tenant} is at its cap of ${tenantCap} concurrent sessions`,
      details: { tenant, limit: tenantCap, active: ofTenant },
    };
  }
  return undefined;
}

/** A session of `agent` was placed: a half-open breaker's probe is now running. */
export function admitted(d: Draft, agent: string, session: string): void {
  const b = breakerOf(d.ctx, agent);
  if (d.ctx.breaker && b.state === 'half_open' && b.probe === null) {
    d.ctx.breakers = { ...d.ctx.breakers, [agent]: { ...b, probe: session } };
  }
}

/**
 * A live session of `agent` ended in `state`. Closed: a failure inside the window counts, and
 * the threshold opens the breaker. Half open: the probe's success closes it, its failure re-opens
 * it. Ends of sessions that were already running when it opened change nothing.
 */
export function breakerOnEnd(d: Draft, agent: string, session: string, state: SessionState): void {
  const cfg = d.ctx.breaker;
  if (!cfg) return;
  const b = breakerOf(d.ctx, agent);
  const failed = state === 'failed';
  if (b.state === 'half_open') {
    if (b.probe !== session) return;
    if (failed) {
      setBreaker(
        d,
        agent,
        { state: 'open', failures: [], openedAt: d.ctx.now, probe: null },
        `probe session ${session} failed`,
      );
    } else {
      setBreaker(d, agent, { ...CLOSED }, `probe session ${session} ended ${state}`);
    }
    return;
  }
  if (b.state === 'open' || !failed) return;
  const failures = [...b.failures.filter((t) => d.ctx.now - t < cfg.windowMs), d.ctx.now];
  if (failures.length >= cfg.failures) {
    setBreaker(
      d,
      agent,
      { state: 'open', failures, openedAt: d.ctx.now, probe: null },
      `${failures.length} failed sessions within ${cfg.windowMs} ms`,
    );
  } else {
    setBreaker(d, agent, { ...b, failures }, 'failure counted');
  }
}

/** Breakers as status shows them: every registered agent when the breaker is on. */
export function breakerStatus(ctx: SupervisorContext): {
  agent: string;
  state: BreakerState;
  failures: number;
  openedAt: number | null;
}[] {
  if (!ctx.breaker) return [];
  const cfg = ctx.breaker;
  const agents = new Set([...ctx.registry.map((a) => a.name), ...Object.keys(ctx.breakers)]);
  return [...agents].sort().map((agent) => {
    const b = breakerOf(ctx, agent);
    const state =
      b.state === 'open' && b.openedAt !== null && ctx.now - b.openedAt >= cfg.cooldownMs
        ? 'half_open'
        : b.state;
    return {
      agent,
      state,
      failures: b.failures.filter((t) => ctx.now - t < cfg.windowMs).length,
      openedAt: b.openedAt,
    };
  });
}

/** Live sessions per tenant. */
export function tenantCounts(ctx: SupervisorContext): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of Object.values(ctx.sessions)) {
    if (s.tenant !== undefined && isLive(s)) out[s.tenant] = (out[s.tenant] ?? 0) + 1;
  }
  return out;
}
