import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';
import type { NatsPermissions } from '../../src/runtime/nats/permissions.ts';

type KeyPair = ReturnType<typeof nkeys.createUser>;

/**
 * Just enough of NATS's decentralized auth (an operator signs an account, the account signs users)
 * to run nats-server in operator mode and give a user a real `.creds` file. No library for it is
 * installed, and the format is small: a JWT whose signature is the issuer's ed25519 nkey.
 */
function sign(claims: Record<string, unknown>, issuer: KeyPair): string {
  const body = { ...claims, iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey() };
  const jti = createHash('sha512-256').update(JSON.stringify(body)).digest('hex').toUpperCase();
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ jti, ...body })).toString('base64url');
  const signature = issuer.sign(new TextEncoder().encode(`${header}.${payload}`));
  return `${header}.${payload}.${Buffer.from(signature).toString('base64url')}`;
}

export interface Operator {
  /** nats-server config for operator mode with this one account preloaded. */
  serverConfig: string;
  /** A `.creds` file text for a new user of the account, with these permissions (or none). */
  userCreds(name: string, permissions?: NatsPermissions): string;
}

export function createOperator(): Operator {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const operatorJwt = sign(
    { sub: operator.getPublicKey(), name: 'test-operator', nats: { type: 'operator', version: 2 } },
    operator,
  );
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1 };
  const accountJwt = sign(
    {
      sub: account.getPublicKey(),
      name: 'openrtc',
      nats: { limits: { ...unlimited, leaf: -1 }, type: 'account', version: 2 },
    },
    operator,
  );
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      'resolver: MEMORY',
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt} }`,
      '',
    ].join('\n'),
    userCreds(name, permissions) {
      const user = nkeys.createUser();
      const allow = permissions && {
        pub: { allow: permissions.publish.allow },
        sub: { allow: permissions.subscribe.allow },
        ...(permissions.allow_responses ? { resp: { max: 1, ttl: 0 } } : {}),
      };
      const jwt = sign(
        {
          sub: user.getPublicKey(),
          name,
          nats: { ...allow, subs: -1, data: -1, payload: -1, type: 'user', version: 2 },
        },
        account,
      );
      const seed = new TextDecoder().decode(user.getSeed());
      return [
        '-----BEGIN NATS USER JWT-----',
        jwt,
        '------END NATS USER JWT------',
        '',
        '-----BEGIN USER NKEY SEED-----',
        seed,
        '------END USER NKEY SEED------',
        '',
      ].join('\n');
    },
  };
}
