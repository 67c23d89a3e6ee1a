/** What the supervisor's LiveKit dispatcher needs: the server, its credentials, and how to register. */
export interface LiveKitOptions {
  /** The LiveKit server (`ws(s)://` or `http(s)://`); the dispatcher connects to `<url>/agent`. */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Explicit dispatch: LiveKit sends only jobs dispatched to this name. Absent: automatic dispatch. */
  agentName?: string;
  /** The optional (deprecated by LiveKit, still sent) worker namespace. */
  namespace?: string;
  /** Accept only jobs that name a registered agent (metadata or room prefix): no first-agent fallback. */
  explicitOnly?: boolean;
  /** Load (active sessions / pool capacity) at which the pool reports WS_FULL. Default 0.9. */
  loadThreshold?: number;
  /** Interval of `updateWorker`, ms. Default 2500 (as agents-js). */
  updateIntervalMs?: number;
  /** How long the server may take to answer `register`, ms. Default 10000. */
  registerTimeoutMs?: number;
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
    Pick<LiveKitOptions, 'loadThreshold' | 'updateIntervalMs' | 'registerTimeoutMs' | 'pingIntervalMs'>
  > & { reconnect: { initialMs: number; maxMs: number }; permissions: AgentPermissions };

export const LIVEKIT_DEFAULTS = {
  loadThreshold: 0.9,
  updateIntervalMs: 2500,
  registerTimeoutMs: 10_000,
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
