import { type Command, InvalidArgumentError, Option } from 'commander';
import { deploymentProblem, type LiveKitOptions } from '../runtime/livekit/options.ts';
import { CliError } from './errors.ts';

/** The LiveKit flags as commander parses them. */
export interface LiveKitFlags {
  livekitUrl?: string;
  livekitApiKey?: string;
  livekitApiSecret?: string;
  agentName?: string;
  livekitNamespace?: string;
  livekitDeployment?: string;
  automaticDispatch?: boolean;
  explicitOnly?: boolean;
  loadThreshold?: number;
}

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InvalidArgumentError(`--load-threshold must be a number in (0, 1], got '${value}'`);
  }
  return n;
}

function deployment(value: string): string {
  const problem = deploymentProblem(value);
  if (problem) throw new InvalidArgumentError(`--livekit-deployment: ${problem}, got '${value}'`);
  return value;
}

function agentName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(value)) {
    throw new InvalidArgumentError(`--agent-name must be letters, digits, _ . or -, got '${value}'`);
  }
  return value;
}

/** Adds the flags that make a pool a LiveKit agent worker (each with LiveKit's usual variable). */
export function addLiveKitOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--livekit-url <url>', 'take jobs from this LiveKit server as an agent worker').env(
        'LIVEKIT_URL',
      ),
    )
    .addOption(new Option('--livekit-api-key <key>', 'LiveKit API key').env('LIVEKIT_API_KEY'))
    .addOption(
      new Option(
        '--livekit-api-secret <secret>',
        'LiveKit API secret; prefer the variable, flags show in ps',
      ).env('LIVEKIT_API_SECRET'),
    )
    .addOption(
      new Option(
        '--agent-name <name>',
        'also take explicit dispatches to this name for the whole pool (routing picks the agent), instead of automatic dispatch; each agent always takes dispatches to its own name',
      )
        .env('LIVEKIT_AGENT_NAME')
        .argParser(agentName),
    )
    .addOption(
      new Option('--livekit-namespace <ns>', 'LiveKit worker namespace (optional, deprecated by LiveKit)'),
    )
    .addOption(
      new Option(
        '--livekit-deployment <name>',
        'register under this deployment: only dispatches naming it reach the pool',
      )
        .env('LIVEKIT_AGENT_DEPLOYMENT')
        .argParser(deployment),
    )
    .addOption(
      new Option(
        '--no-automatic-dispatch',
        'do not register for automatic dispatch (explicit dispatches only)',
      ),
    )
    .addOption(
      new Option(
        '--explicit-only',
        'accept only LiveKit jobs whose metadata or room-name prefix names a registered agent (no first-agent fallback)',
      ),
    )
    .addOption(
      new Option(
        '--load-threshold <x>',
        'tell LiveKit the pool is full (WS_FULL) at this load: active sessions / capacity',
      )
        .argParser(fraction)
        .default(0.9),
    );
}

/** The dispatcher's options from the flags; undefined without a LiveKit URL. A half-set is a CliError. */
export function liveKitOptions(flags: LiveKitFlags): LiveKitOptions | undefined {
  const url = flags.livekitUrl?.trim();
  if (!url) {
    if (flags.agentName || flags.explicitOnly || flags.livekitNamespace || flags.livekitDeployment) {
      throw new CliError(
        '--agent-name, --explicit-only, --livekit-namespace and --livekit-deployment need --livekit-url (LIVEKIT_URL)',
      );
    }
    return undefined;
  }
  if (!/^(wss?|https?):\/\/[^\s]+$/.test(url)) {
    throw new CliError(
      `--livekit-url (LIVEKIT_URL) must be a ws://, wss://, http:// or https:// URL, got '${url}'`,
    );
  }
  if (!flags.livekitApiKey || !flags.livekitApiSecret) {
    throw new CliError(
      'a LiveKit URL needs its credentials: --livekit-api-key and --livekit-api-secret (LIVEKIT_API_KEY, LIVEKIT_API_SECRET)',
    );
  }
  return {
    url,
    apiKey: flags.livekitApiKey,
    apiSecret: flags.livekitApiSecret,
    ...(flags.agentName ? { agentName: flags.agentName } : {}),
    ...(flags.livekitNamespace ? { namespace: flags.livekitNamespace } : {}),
    ...(flags.livekitDeployment ? { deployment: flags.livekitDeployment } : {}),
    ...(flags.automaticDispatch === false ? { automatic: false } : {}),
    ...(flags.explicitOnly ? { explicitOnly: true } : {}),
    ...(flags.loadThreshold !== undefined ? { loadThreshold: flags.loadThreshold } : {}),
  };
}
