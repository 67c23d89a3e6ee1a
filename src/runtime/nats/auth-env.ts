// The NATS credential flags and their environment variables: no NATS client here, so the CLI can
// declare its flags without loading one.

/**
 * How a process proves who it is to nats-server, the NATS ecosystem's usual way: each flag has the
 * environment variable the `nats` CLI and the other clients read. A flag wins over its variable.
 */
export interface NatsAuthFlags {
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  /** An nkey seed file (or, from the environment, the seed itself). */
  natsNkey?: string;
  /** A `.creds` file: a user JWT and its nkey seed (operator/JWT mode). */
  natsCreds?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** Each flag's environment variable. */
export const NATS_AUTH_ENV = {
  natsUser: 'NATS_USER',
  natsPassword: 'NATS_PASSWORD',
  natsToken: 'NATS_TOKEN',
  natsNkey: 'NATS_NKEY',
  natsCreds: 'NATS_CREDS',
  natsCa: 'NATS_CA',
  natsCert: 'NATS_CERT',
  natsKey: 'NATS_KEY',
} as const satisfies Record<keyof NatsAuthFlags, string>;
