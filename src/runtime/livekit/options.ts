/** What the supervisor's LiveKit dispatcher needs: the server, its credentials, and how to register. */
export interface LiveKitOptions {
  /** The LiveKit server (`ws(s)://` or `http(s)://`); the dispatcher connects to `<url>/agent`. */
  url: string;
  apiKey: string;
  apiSecret: string;
  /**
   * One more registration, for explicit dispatch to the whole pool under this name (routing picks
   * the agent). It takes the place of the automatic registration.
   */
  agentName?: string;
  /**
   * Register for automatic dispatch (agentName ''): every new room without an explicit dispatch
   * gets a job, and routing picks the agent. Default true; ignored when `agentName` is set.
   */
  automatic?: boolean;
  /**
   * Register each agent under its own name, so an explicit dispatch to `dental` reaches the pool's
   * `dental` agent (livekit-server matches the name exactly). Default true.
   */
  perAgent?: boolean;
  /**
   * The worker namespace (deprecated by LiveKit). It is part of the job topic: under automatic
   * dispatch a room gets one job per namespace any worker registered, so a namespace next to a
   * worker without one means two agents per room. Sent only when given.
   */
  namespace?: string;
  /** The deployment (part of the job topic): only dispatches that name it reach these registrations. */
  deployment?: string;
  /** Accept only jobs that name a registered agent (metadata or room prefix): no first-agent fallback. */
  explicitOnly?: boolean;
  /** Load (active sessions / pool capacity) at which the pool reports WS_FULL. Default 0.9. */
  loadThreshold?: number;
  /** Interval of `updateWorker`, ms. Default 2500 (as agents-js). */
  updateIntervalMs?: number;
  /** How long the server may take to answer `register`, ms. Default 10000. */
  registerTimeoutMs?: number;
  /**
   * How long an accepted availability holds its session slot while the assignment is awaited, ms.
   * Default 7500 (agents-js's ASSIGNMENT_TIMEOUT; livekit-server sends the assignment right after
   * the answer).
   */
  assignmentTimeoutMs?: number;
  /** Reconnect backoff: first delay and cap, ms. Default 500 → 10000. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** WebSocket ping interval, ms; a connection that misses a pong for this long is dropped. Default 10000. */
  pingIntervalMs?: number;
  /** What the agent participant may do in rooms (sent at register; LiveKit puts it in the job token). */
  permissions?: Partial<AgentPermissions>;
}

export interface AgentPermissions {
  canPublish: boolean;
  canSubscribe: boolean;
  canPublishData: boolean;
  canUpdateMetadata: boolean;
  hidden: boolean;
}

/** LiveKitOptions with every default filled in. */
export type ResolvedLiveKitOptions = LiveKitOptions &
  Required<
    Pick<
      LiveKitOptions,
      'loadThreshold' | 'updateIntervalMs' | 'registerTimeoutMs' | 'assignmentTimeoutMs' | 'pingIntervalMs'
    >
  > & { reconnect: { initialMs: number; maxMs: number }; permissions: AgentPermissions };

export const LIVEKIT_DEFAULTS = {
  loadThreshold: 0.9,
  updateIntervalMs: 2500,
  registerTimeoutMs: 10_000,
  assignmentTimeoutMs: 7500,
  pingIntervalMs: 10_000,
  reconnect: { initialMs: 500, maxMs: 10_000 },
  permissions: {
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
    canUpdateMetadata: true,
    hidden: false,
  },
};

/** Fills every missing option with its default. */
export function resolveLiveKitOptions(o: LiveKitOptions): ResolvedLiveKitOptions {
  return {
    ...LIVEKIT_DEFAULTS,
    ...o,
    reconnect: { ...LIVEKIT_DEFAULTS.reconnect, ...o.reconnect },
    permissions: { ...LIVEKIT_DEFAULTS.permissions, ...o.permissions },
  };
}

/** The identity the agent participant takes in a job's room (the same rule as agents-js). */
export function agentIdentity(jobId: string): string {
  return `agent-${jobId}`;
}

/**
 * livekit/protocol's ValidateDeployment (agent/environment.go): at most 64 bytes, no `_` (it
 * separates the parts of a job topic), no whitespace or control bytes. Returns the problem, if any.
 */
export function deploymentProblem(deployment: string): string | undefined {
  if (Buffer.byteLength(deployment) > 64) return 'deployment exceeds 64 bytes';
  for (let i = 0; i < deployment.length; i++) {
    const c = deployment.charCodeAt(i);
    if (c === 0x5f) return "deployment contains the reserved character '_'";
    if (c <= 0x20 || c === 0x7f) return `deployment contains whitespace or a control byte at position ${i}`;
  }
  return undefined;
}

/** One agent-worker registration of the pool: the name LiveKit dispatches to, and whose jobs they are. */
export interface RegistrationSpec {
  /** The registered agentName ('' for automatic dispatch). */
  agentName: string;
  /** The pool agent that serves every job of this registration; absent: routing decides. */
  agent?: string;
}

/**
 * The registrations a pool makes: one per agent (explicit dispatch by the agent's name), plus one
 * for the whole pool: under `agentName` when given, else for automatic dispatch (unless turned off).
 */
export function registrationsOf(agents: readonly string[], o: LiveKitOptions): RegistrationSpec[] {
  const specs: RegistrationSpec[] = [];
  const pool = o.agentName ?? (o.automatic === false ? undefined : '');
  if (pool !== undefined && !(o.perAgent !== false && agents.includes(pool))) specs.push({ agentName: pool });
  if (o.perAgent !== false) for (const a of agents) specs.push({ agentName: a, agent: a });
  return specs;
}
