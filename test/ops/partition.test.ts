import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../../src/protocol/index.ts';
import { PoolClient } from '../../src/runtime/client.ts';
import { captureLog } from '../support/log.ts';
import { useNatsServer } from '../support/nats.ts';
import { readyWorkers, sessionsReach } from '../support/pool.ts';
import { exited, logLines, useOpenrtc } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

const AGENTS = new URL('./agents', import.meta.url).pathname;
const nats = useNatsServer();
const openrtc = useOpenrtc();

describe('a leader cut off (SIGSTOP) while the standby takes over, then back (SIGCONT)', () => {
  const pool = 'partition';
  let client: PoolClient;
  beforeAll(async () => {
    client = await PoolClient.connect({ url: nats.url, pool, log: captureLog().log });
  });
  afterAll(async () => {
    await client?.close();
  });

  it('never do both supervisors command one worker: every command a worker obeys after the takeover carries the new term, and the old leader stops at once when it is back', async () => {
    const supArgs = ['supervisor', AGENTS, '--nats', nats.url, '--pool', pool, '--json-logs'];
    const sup1 = openrtc(supArgs);
    const worker = openrtc([
      'worker',
      '--nats',
      nats.url,
      '--pool',
      pool,
      '--id',
      'p1',
      '--capacity',
      '8',
      '--json-logs',
    ]);
    await readyWorkers(client, 1, 60_000);
    const term1 = await waitFor('sup1 to lead', () => logLines(sup1, 'leading the pool')[0]?.term as number);
    const sup2 = openrtc([...supArgs, '--standby']);
    await waitFor('sup2 to wait as a standby', () =>
      logLines(sup2, 'standby: waiting for the leadership lease').length > 0 ? true : undefined,
    );

    // Every command on the wire, with its term (a subscriber on the request subject sees them all).
    const commands: { at: number; type: string; term: number | undefined }[] = [];
    const sub = client.bus.subscribe(client.subjects.workerCmd('p1'), (m: Message) => {
      commands.push({ at: Date.now(), type: m.type, term: (m as { term?: number }).term });
    });
    await client.bus.flush();

    // sup1 places sessions (term1 commands), then is cut off: the process is stopped, it can
    // neither renew its lease nor send anything, its NATS connection stays open.
    const before = await Promise.all(
      [0, 1].map(() => client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 15_000 } })),
    );
    await sessionsReach(client, before, 'active', 30_000);
    expect(commands.filter((c) => c.type === 'session.start').every((c) => c.term === term1)).toBe(true);
    sup1.kill('SIGSTOP');
    const took = await waitFor(
      'the standby to take over from the stopped leader',
      () => logLines(sup2, 'standby took over: leading the pool')[0],
      30_000,
    );
    const term2 = took.term as number;
    expect(term2).toBeGreaterThan(term1);
    const takeoverAt = Date.now();
    // The new leader commands the worker: a new session (and a cancel) carry term2.
    const after = await waitFor('a dispatch under the new leader', () =>
      client.dispatch({ agent: 'steady', audio: { kind: 'silence', durationMs: 15_000 } }),
    );
    await sessionsReach(client, [after], 'active', 30_000);
    await waitFor('the worker to see term2', () =>
      commands.some((c) => c.term === term2 && c.type === 'session.start') ? true : undefined,
    );

    // The old leader comes back: its first renewal fails (the lease has a new holder), it closes
    // its connection and exits 3, whatever it had queued meanwhile.
    sup1.kill('SIGCONT');
    expect(await exited(sup1)).toBe(3);
    expect(logLines(sup1, 'leadership lease lost').length).toBe(1);

    // Any command with the old term seen after the takeover was refused by the worker.
    const stale = commands.filter((c) => c.term === term1 && c.at >= takeoverAt);
    const refused = logLines(worker, 'command from a stale leader refused');
    expect(refused.length).toBe(stale.length);
    expect(refused.every((l) => l.term === term1 && l.current === term2)).toBe(true);
    // Every session, before and after the takeover, is still running under the one leader.
    const s = await client.status();
    for (const p of [...before, after])
      expect(s.sessions.find((x) => x.session === p.session)?.state, p.session).toBe('active');
    sub.unsubscribe();
    console.log(
      `partition: ${commands.length} commands seen, ${stale.length} with the old term after the takeover (all refused)`,
    );
  });
});
