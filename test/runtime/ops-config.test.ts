import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { operationsOptions } from '../../src/cli/ops-options.ts';
import { ConfigError, loadPoolConfig } from '../../src/runtime/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'openrtc-ops-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('operations in the pool config file', () => {
  it('reads limits, breaker, record and observers (paths relative to the file)', async () => {
    const path = file('ok.json', {
      limits: { agents: { dental: 3 }, perTenant: 2, tenantKey: 'org' },
      breaker: { failures: 5, windowMs: 60_000, cooldownMs: 30_000 },
      record: { maxSessions: 100 },
      observers: ['./obs/billing.ts'],
    });
    expect(await loadPoolConfig(path)).toEqual({
      limits: { agents: { dental: 3 }, perTenant: 2, tenantKey: 'org' },
      breaker: { failures: 5, windowMs: 60_000, cooldownMs: 30_000 },
      record: { maxSessions: 100 },
      observers: [join(dir, 'obs/billing.ts')],
    });
  });

  it('refuses a typo, a zero cap and an incomplete breaker, naming the file and the path', async () => {
    for (const [name, content, where] of [
      ['typo.json', { limit: {} }, 'limit'],
      ['zero.json', { limits: { perAgent: 0 } }, 'limits.perAgent'],
      ['breaker.json', { breaker: { failures: 3 } }, 'breaker.windowMs'],
    ] as const) {
      const path = file(name, content);
      const err = await loadPoolConfig(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain(path);
      expect((err as Error).message).toContain(where);
    }
  });

  it('flags override the file: caps, breaker, observers added, standby and lease', async () => {
    const path = file('flags.json', {
      limits: { perAgent: 9, tenants: { acme: 1 } },
      breaker: { failures: 5, windowMs: 1000, cooldownMs: 1000 },
      observers: ['a.ts'],
    });
    const o = await operationsOptions({
      config: path,
      maxAgentSessions: 4,
      breaker: { failures: 2, windowMs: 10, cooldownMs: 20 },
      observer: ['b.ts'],
      standby: true,
      leaseMs: 3000,
    });
    expect(o).toMatchObject({
      limits: { perAgent: 4, tenants: { acme: 1 } },
      breaker: { failures: 2, windowMs: 10, cooldownMs: 20 },
      observers: [join(dir, 'a.ts'), join(process.cwd(), 'b.ts')],
      standby: true,
      lease: { ttlMs: 3000 },
    });
  });
});
