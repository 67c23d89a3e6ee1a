import { execFileSync } from 'node:child_process';
import { AuthorizationError, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { subjects } from '../../src/protocol/index.ts';
import { natsConnectOptions, natsInboxPrefix } from '../../src/runtime/nats/auth.ts';
import { generatePassword, rolePermissions } from '../../src/runtime/nats/permissions.ts';
import type { RunningNatsServer } from '../../src/runtime/nats/server.ts';
import { waitFor } from '../support/wait.ts';
import { createOperator } from './jwt.ts';
import { connectTo, permissionErrors, record, startServerWithConfig, useTempDir } from './support.ts';

const tmp = useTempDir();
const servers: RunningNatsServer[] = [];
const open: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((nc) => nc.close()));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function serve(name: string, config: string): Promise<RunningNatsServer> {
  const server = await startServerWithConfig(tmp.write(name, config));
  servers.push(server);
  return server;
}

async function connected(url: string, opts: Parameters<typeof connectTo>[1]): Promise<NatsConnection> {
  const nc = await connectTo(url, opts);
  open.push(nc);
  await nc.flush();
  return nc;
}

describe('the usual NATS credentials, against a real nats-server', () => {
  it('signs in with a token from NATS_TOKEN, and a wrong token is refused', async () => {
    const token = generatePassword();
    const server = await serve('token.conf', `authorization { token: "${token}" }\n`);
    const nc = await connected(server.url, natsConnectOptions({}, { NATS_TOKEN: token }));
    expect(nc.isClosed()).toBe(false);
    await expect(
      connectTo(server.url, natsConnectOptions({ natsToken: `${token}x` }, { NATS_TOKEN: token })),
    ).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('signs in with a .creds file in operator mode, where the user JWT can carry a role’s permissions', async () => {
    const operator = createOperator();
    const server = await serve('operator.conf', operator.serverConfig);
    const pool = 'jwt';
    const s = subjects(pool);
    const role = { kind: 'worker', id: 'w1' } as const;
    const workerCreds = tmp.write('w1.creds', operator.userCreds('w1', rolePermissions(pool, role)));
    const watcherCreds = tmp.write('watcher.creds', operator.userCreds('watcher'));

    const watcher = await connected(server.url, natsConnectOptions({ natsCreds: watcherCreds }, {}));
    const events = record(watcher, s.eventsAll);
    await watcher.flush();
    const worker = await connected(server.url, {
      ...natsConnectOptions({}, { NATS_CREDS: workerCreds }),
      inboxPrefix: natsInboxPrefix(pool, role),
    });
    const errors = permissionErrors(worker);
    worker.publish(s.events('w2'), 'spoofed');
    worker.publish(s.events('w1'), 'own');
    expect((await errors.next(s.events('w2'))).operation).toBe('publish');
    await waitFor('the own event', () => events.got.length > 0, 5000, 10);
    await watcher.flush();
    expect(events.got.map((e) => e.subject)).toEqual([s.events('w1')]);

    await expect(connectTo(server.url)).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('connects over TLS with our CA and a client certificate, and is refused without the certificate', async () => {
    const pki = makePki();
    const server = await serve(
      'tls.conf',
      `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.ca}", verify: true, timeout: 2 }\n`,
    );
    const nc = await connected(
      server.url,
      natsConnectOptions({ natsCa: pki.ca }, { NATS_CERT: pki.clientCert, NATS_KEY: pki.clientKey }),
    );
    expect(nc.info?.tls_required).toBe(true);
    // Without a client certificate the server refuses the handshake. How the refusal reads depends
    // on timing under TLS 1.3 (an alert, or a reset before it is read), so only the refusal counts;
    // the connection that follows, with the certificate, shows the server itself was fine.
    await expect(connectTo(server.url, natsConnectOptions({ natsCa: pki.ca }, {}))).rejects.toThrow();
    const again = await connected(
      server.url,
      natsConnectOptions({ natsCa: pki.ca }, { NATS_CERT: pki.clientCert, NATS_KEY: pki.clientKey }),
    );
    expect(again.info?.tls_required).toBe(true);
    // Without our CA, the client does not trust the server's certificate.
    await expect(
      connectTo(server.url, { tls: { certFile: pki.clientCert, keyFile: pki.clientKey } }),
    ).rejects.toThrow(/unable to verify/);
  });
});

/** A throwaway CA that signs a server certificate for 127.0.0.1 and a client certificate. */
function makePki() {
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (name: string) => {
    // genpkey writes PKCS#8, the "BEGIN PRIVATE KEY" form every TLS stack reads.
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmp.path(name));
    return tmp.path(name);
  };
  const caKey = key('ca-key.pem');
  const ca = tmp.path('ca.pem');
  openssl('req', '-x509', '-new', '-key', caKey, '-out', ca, '-days', '1', '-subj', '/CN=openrtc test CA');
  const issue = (name: string, subject: string, extensions: string) => {
    const k = key(`${name}-key.pem`);
    openssl('req', '-new', '-key', k, '-out', tmp.path(`${name}.csr`), '-subj', subject);
    const ext = tmp.write(`${name}.ext`, extensions);
    const cert = tmp.path(`${name}.pem`);
    const serial = ['-set_serial', name === 'server' ? '1001' : '1002'];
    openssl(
      'x509',
      '-req',
      '-in',
      tmp.path(`${name}.csr`),
      '-CA',
      ca,
      '-CAkey',
      caKey,
      ...serial,
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    );
    return { cert, key: k };
  };
  const server = issue(
    'server',
    '/CN=127.0.0.1',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  const client = issue('client', '/CN=openrtc-worker-w1', 'extendedKeyUsage=clientAuth\n');
  return {
    ca,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
  };
}
