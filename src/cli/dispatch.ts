import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { FINAL_SESSION_STATES } from '../protocol/index.ts';
import type { DispatchBody, SessionTransition } from '../runtime/client.ts';
import type { NatsAuthFlags } from '../runtime/nats/auth.ts';
import { RequestFailedError } from '../runtime/nats/bus.ts';
import { connectClient } from './client.ts';
import { CliError } from './errors.ts';

export interface DispatchFlags extends NatsAuthFlags {
  nats?: string;
  pool: string;
  agent?: string;
  room?: string;
  jobId?: string;
  metadata?: string;
  audio?: string;
  wait?: boolean;
  json?: boolean;
}

const FINAL: ReadonlySet<string> = new Set(FINAL_SESSION_STATES);

/** `openrtc dispatch`: sends a dispatch request; with --wait follows the session to its end. */
export async function dispatchCommand(flags: DispatchFlags): Promise<number> {
  const client = await connectClient('dispatch', flags);
  const out = (line: string, data: object) =>
    process.stdout.write(flags.json ? `${JSON.stringify(data)}\n` : `${line}\n`);
  try {
    const started = Date.now();
    const follow = flags.wait
      ? client.follow((t: SessionTransition) =>
          out(
            `${String(t.seq).padStart(3)}  +${String(t.ts - started).padStart(5)} ms  ${t.from ?? '·'} → ${t.to}  (${t.event})${
              t.summary.error ? `  ${t.summary.error}` : ''
            }`,
            { kind: 'transition', ...t },
          ),
        )
      : undefined;
    if (follow) await client.bus.flush();
    const body: DispatchBody = {
      job: {
        id: flags.jobId ?? randomUUID(),
        ...(flags.room ? { room: flags.room } : {}),
        ...(flags.metadata ? { metadata: flags.metadata } : {}),
      },
      ...(flags.agent ? { agent: flags.agent } : {}),
      ...(flags.audio ? { audio: { kind: 'wav' as const, path: resolve(flags.audio) } } : {}),
    };
    const ok = await client.dispatch(body);
    out(
      `session ${ok.session}  agent ${ok.agent}  worker ${ok.worker}  job ${ok.jobId}${ok.existing ? '  (existing)' : ''}`,
      {
        kind: 'dispatched',
        session: ok.session,
        agent: ok.agent,
        worker: ok.worker,
        jobId: ok.jobId,
        existing: ok.existing,
      },
    );
    if (!follow) return 0;
    follow.track(ok.session);
    if (ok.existing) {
      // A repeated job: its session may have ended already, and then no transition will come.
      const known = (await client.status()).sessions.find((x) => x.session === ok.session);
      if (known && FINAL.has(known.state)) {
        out(`session already ended: ${known.state}`, { kind: 'ended', state: known.state });
        return known.state === 'closed' ? 0 : 1;
      }
    }
    const final = await follow.done;
    follow.sub.unsubscribe();
    if (final.to === 'closed') return 0;
    if (!flags.json) process.stderr.write(`session ${final.to}: ${final.summary.error ?? final.event}\n`);
    return 1;
  } catch (err) {
    if (err instanceof RequestFailedError)
      throw new CliError(`dispatch refused: ${err.error.code}: ${err.error.message}`, 1);
    throw err;
  } finally {
    await client.close();
  }
}
