import { nkeys } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  NatsAuthError,
  natsAuthSummary,
  natsConnectOptions,
  natsInboxPrefix,
} from '../../src/runtime/nats/auth.ts';
import { useTempDir } from './support.ts';

const tmp = useTempDir();
const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
const seedFile = tmp.write('user.nk', `${seed}\n`);
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';
const certFile = tmp.write('client.pem', PEM_CERT);
const keyFile = tmp.write('client-key.pem', PEM_KEY);
const credsFile = tmp.write(
  'user.creds',
  `-----BEGIN NATS USER JWT-----\neyJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
);
const missing = tmp.path('does-not-exist.pem');

function thrown(fn: () => unknown): NatsAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NatsAuthError) return err;
    throw err;
  }
  throw new Error('expected a NatsAuthError');
}

describe('natsConnectOptions', () => {
  it('gives no credentials when neither flags nor environment have any', () => {
    expect(natsConnectOptions({}, {})).toEqual({});
    expect(natsAuthSummary({}, {})).toBe('no credentials');
  });

  it('reads user and password from the usual environment names', () => {
    expect(natsConnectOptions({}, { NATS_USER: 'ops', NATS_PASSWORD: 'pw-from-env' })).toEqual({
      user: 'ops',
      pass: 'pw-from-env',
    });
  });

  it('lets a flag win over its environment variable, field by field', () => {
    const env = { NATS_USER: 'env-user', NATS_PASSWORD: 'env-password' };
    expect(natsConnectOptions({ natsUser: 'flag-user' }, env)).toEqual({
      user: 'flag-user',
      pass: 'env-password',
    });
    expect(natsConnectOptions({ natsToken: 'flag-token' }, { NATS_TOKEN: 'env-token' })).toEqual({
      token: 'flag-token',
    });
  });

  it('treats an empty variable as unset', () => {
    expect(natsConnectOptions({ natsToken: 't0k' }, { NATS_USER: '', NATS_PASSWORD: '' })).toEqual({
      token: 't0k',
    });
  });

  it('refuses two ways to authenticate, naming both sources', () => {
    const error = thrown(() => natsConnectOptions({ natsToken: 'secret-token' }, { NATS_CREDS: credsFile }));
    expect(error.message).toMatch(/choose one way/);
    expect(error.message).toContain('token (--nats-token)');
    expect(error.message).toContain('creds file (NATS_CREDS)');
    expect(error.message).not.toContain('secret-token');
    expect(() => natsConnectOptions({ natsNkey: seedFile, natsUser: 'u', natsPassword: 'p' }, {})).toThrow(
      /user\/password \(--nats-user\) and nkey \(--nats-nkey\)/,
    );
  });

  it('refuses a user without a password and a password without a user, never echoing the password', () => {
    expect(thrown(() => natsConnectOptions({ natsUser: 'ops' }, {})).message).toBe(
      '--nats-user is set but no password: add NATS_PASSWORD (or --nats-password)',
    );
    const error = thrown(() => natsConnectOptions({}, { NATS_PASSWORD: 'hunter2-secret' }));
    expect(error.message).toContain('NATS_PASSWORD is set but no user');
    expect(error.message).not.toContain('hunter2-secret');
  });

  it('signs in with an nkey seed file, or with the seed itself from the environment', () => {
    const fromFile = natsConnectOptions({ natsNkey: seedFile }, {});
    expect(typeof fromFile.authenticator).toBe('function');
    const inline = natsConnectOptions({}, { NATS_NKEY: seed });
    expect(typeof inline.authenticator).toBe('function');
    expect(natsAuthSummary({}, { NATS_NKEY: seed })).toBe(`nkey ${user.getPublicKey()} (from NATS_NKEY)`);
    expect(natsAuthSummary({}, { NATS_NKEY: seed })).not.toContain(seed);
  });

  it('names the flag and the path of an unreadable file', () => {
    expect(thrown(() => natsConnectOptions({ natsNkey: missing }, {})).message).toBe(
      `--nats-nkey: cannot read nkey seed file ${missing} (ENOENT)`,
    );
    expect(thrown(() => natsConnectOptions({}, { NATS_CREDS: missing })).message).toBe(
      `NATS_CREDS: cannot read creds file ${missing} (ENOENT)`,
    );
    expect(thrown(() => natsConnectOptions({ natsCa: missing }, {})).message).toBe(
      `--nats-ca: cannot read certificate ${missing} (ENOENT)`,
    );
    expect(
      thrown(() => natsConnectOptions({}, { NATS_CERT: certFile, NATS_KEY: tmp.path('x') })).message,
    ).toBe(`NATS_KEY: cannot read private key ${tmp.path('x')} (ENOENT)`);
    expect(thrown(() => natsConnectOptions({ natsCa: tmp.path('') }, {})).message).toMatch(/\(EISDIR\)$/);
  });

  it('says what is wrong with a file that is readable but not what it should be', () => {
    const notSeed = tmp.write('not-seed.nk', 'hello\n');
    expect(thrown(() => natsConnectOptions({ natsNkey: notSeed }, {})).message).toBe(
      `--nats-nkey (${notSeed}): no user nkey seed (a line starting with SU) found`,
    );
    // A changed character in the middle breaks the CRC16 (the last character is partly padding).
    const changed = `${seed.slice(0, 20)}${seed[20] === 'A' ? 'B' : 'A'}${seed.slice(21)}`;
    const badChecksum = tmp.write('bad.nk', `${changed}\n`);
    expect(thrown(() => natsConnectOptions({ natsNkey: badChecksum }, {})).message).toMatch(
      /the nkey seed is not valid/,
    );
    expect(thrown(() => natsConnectOptions({ natsCreds: seedFile }, {})).message).toMatch(
      /is not a NATS \.creds file/,
    );
    expect(thrown(() => natsConnectOptions({ natsCa: keyFile }, {})).message).toBe(
      `--nats-ca: ${keyFile} is not a PEM certificate`,
    );
  });

  it('asks for the client key with a client cert, and the other way round', () => {
    expect(thrown(() => natsConnectOptions({ natsCert: certFile }, {})).message).toBe(
      '--nats-cert needs a client key: add --nats-key or NATS_KEY',
    );
    expect(thrown(() => natsConnectOptions({}, { NATS_KEY: keyFile })).message).toBe(
      'NATS_KEY needs a client cert: add --nats-cert or NATS_CERT',
    );
  });

  it('builds TLS options from CA, cert and key files, alongside a credential', () => {
    expect(
      natsConnectOptions({ natsCa: certFile, natsCert: certFile, natsKey: keyFile }, { NATS_TOKEN: 't' }),
    ).toEqual({ token: 't', tls: { caFile: certFile, certFile, keyFile } });
    expect(natsConnectOptions({}, { NATS_CA: certFile })).toEqual({ tls: { caFile: certFile } });
  });

  it('accepts a .creds file and says so without the seed', () => {
    expect(typeof natsConnectOptions({ natsCreds: credsFile }, {}).authenticator).toBe('function');
    expect(natsAuthSummary({ natsCreds: credsFile }, {})).toBe(`creds file ${credsFile} (from --nats-creds)`);
  });
});

describe('natsInboxPrefix', () => {
  it('gives each role its own reply inbox under _INBOX, the worker one carrying its id', () => {
    expect(natsInboxPrefix('p1', { kind: 'supervisor' })).toBe('_INBOX.openrtc.p1.supervisor');
    expect(natsInboxPrefix('p1', { kind: 'worker', id: 'w-7' })).toBe('_INBOX.openrtc.p1.worker.w-7');
    expect(natsInboxPrefix('p1', { kind: 'client' })).toBe('_INBOX.openrtc.p1.client');
  });

  it('refuses a worker id that is not a subject token', () => {
    expect(() => natsInboxPrefix('p1', { kind: 'worker', id: 'w.*' })).toThrow(/not a valid subject token/);
  });
});
