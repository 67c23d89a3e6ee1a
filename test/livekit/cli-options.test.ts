import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.ts';
import { addLiveKitOptions, type LiveKitFlags, liveKitOptions } from '../../src/cli/livekit-options.ts';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const saved = { ...process.env };
  for (const k of [
    'LIVEKIT_URL',
    'LIVEKIT_API_KEY',
    'LIVEKIT_API_SECRET',
    'LIVEKIT_AGENT_NAME',
    'LIVEKIT_AGENT_DEPLOYMENT',
  ])
    delete process.env[k];
  Object.assign(process.env, env);
  try {
    const cmd = addLiveKitOptions(
      new Command('dev').exitOverride().configureOutput({ writeErr: () => {} }),
    ).action(() => {});
    cmd.parse(args, { from: 'user' });
    return liveKitOptions(cmd.opts<LiveKitFlags>());
  } finally {
    process.env = saved;
  }
};

describe('the LiveKit flags of dev/start/supervisor', () => {
  it('without a LiveKit URL there is no dispatcher', () => {
    expect(parse([])).toBeUndefined();
  });

  it('reads LiveKit’s usual variables, flags win, and --agent-name selects explicit dispatch', () => {
    const env = { LIVEKIT_URL: 'wss://a.example', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's' };
    expect(parse([], env)).toEqual({
      url: 'wss://a.example',
      apiKey: 'k',
      apiSecret: 's',
      loadThreshold: 0.9,
    });
    expect(
      parse(
        [
          '--livekit-url',
          'ws://b:7880',
          '--agent-name',
          'front-desk',
          '--explicit-only',
          '--load-threshold',
          '0.5',
        ],
        env,
      ),
    ).toEqual({
      url: 'ws://b:7880',
      apiKey: 'k',
      apiSecret: 's',
      agentName: 'front-desk',
      explicitOnly: true,
      loadThreshold: 0.5,
    });
  });

  it('--livekit-deployment (LIVEKIT_AGENT_DEPLOYMENT) registers under a deployment; --no-automatic-dispatch drops the automatic registration', () => {
    const env = { LIVEKIT_URL: 'wss://a.example', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's' };
    expect(parse(['--no-automatic-dispatch'], { ...env, LIVEKIT_AGENT_DEPLOYMENT: 'blue' })).toMatchObject({
      deployment: 'blue',
      automatic: false,
    });
    // livekit/protocol's ValidateDeployment: `_` separates the parts of a job topic.
    expect(() => parse(['--livekit-deployment', 'blue_green'], env)).toThrow(/reserved character '_'/);
    expect(() => parse(['--livekit-deployment', 'blue'])).toThrow(/need --livekit-url/);
  });

  it('refuses a URL without credentials, LiveKit flags without a URL, and a bad threshold', () => {
    expect(() => parse(['--livekit-url', 'wss://a'])).toThrow(CliError);
    expect(() => parse(['--livekit-url', 'wss://a'])).toThrow(/LIVEKIT_API_KEY, LIVEKIT_API_SECRET/);
    expect(() => parse(['--agent-name', 'x'])).toThrow(/need --livekit-url/);
    expect(() => parse(['--load-threshold', '1.5'])).toThrow(/\(0, 1\]/);
    expect(() =>
      parse(['--livekit-url', 'nats://a', '--livekit-api-key', 'k', '--livekit-api-secret', 's']),
    ).toThrow(/ws:\/\//);
  });
});
