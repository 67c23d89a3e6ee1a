import type { MessageOf } from '../protocol/index.ts';
import type { NatsAuthFlags } from '../runtime/nats/auth.ts';
import { RequestFailedError } from '../runtime/nats/bus.ts';
import { connectClient } from './client.ts';
import { CliError } from './errors.ts';

/** `openrtc status`: the pool's workers and sessions, as a table or as JSON. */
export async function statusCommand(
  flags: NatsAuthFlags & { nats?: string; pool: string; json?: boolean },
): Promise<number> {
  const client = await connectClient('status', flags);
  try {
    const status = await client.status();
    process.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : formatStatus(status, Date.now()));
    return 0;
  } catch (err) {
    if (err instanceof RequestFailedError) {
      throw new CliError(`no status from pool '${flags.pool}' at ${flags.nats}: ${err.error.message}`, 1);
    }
    throw err;
  } finally {
    await client.close();
  }
}

/** Renders a status reply as aligned text tables. */
export function formatStatus(s: MessageOf<'status.ok'>, now: number): string {
  const lines = [
    `pool ${s.pool}  health ${s.health}  workers ${s.workers.length}  sessions ${s.sessions.length}`,
  ];
  const rejected = Object.entries(s.rejected).filter(([, n]) => n > 0);
  if (rejected.length) lines.push(`rejected messages: ${rejected.map(([r, n]) => `${r}=${n}`).join(' ')}`);
  lines.push('');
  lines.push(
    table(
      [
        'WORKER',
        'GEN',
        'PID',
        'HOST',
        'STATE',
        'SUPERVISION',
        'SESSIONS',
        'RSS MB',
        'PREWARM MS',
        'RESTARTS',
      ],
      s.workers.map((w) => [
        w.worker,
        w.generation === undefined ? '-' : String(w.generation),
        String(w.pid ?? '-'),
        w.host ?? '-',
        w.spare ? `${w.state} (spare)` : w.state,
        w.supervision,
        `${w.active}/${w.capacity}`,
        (w.rssBytes / 1048576).toFixed(0),
        w.prewarmMs === null ? '-' : w.prewarmMs.toFixed(0),
        String(w.restarts),
      ]),
    ),
  );
  lines.push('');
  const gens = formatGenerations(s);
  if (gens) lines.push(gens, '');
  lines.push(
    table(
      ['SESSION', 'AGENT', 'WORKER', 'STATE', 'AGE S', 'ERROR'],
      s.sessions.map((x) => [
        x.session,
        x.agent,
        x.worker,
        x.state,
        ((now - x.createdAt) / 1000).toFixed(1),
        x.error ? `${x.error.code}: ${x.error.message}` : '',
      ]),
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** Left-aligned columns, padded to the widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

/** The pool's worker generations and its latest rollout; empty when there is nothing to tell. */
export function formatGenerations(s: MessageOf<'status.ok'>): string {
  const gens = s.generations ?? [];
  if (gens.length === 0 && !s.rollout) return '';
  const lines = [
    table(
      ['GENERATION', 'CODE', 'WORKERS', 'SESSIONS', 'ROLE'],
      gens.map((g) => [
        String(g.generation),
        g.code ?? '-',
        g.workers.join(','),
        String(g.sessions),
        g.serving ? 'serving' : g.draining ? 'draining' : g.pending ? 'starting' : '-',
      ]),
    ),
  ];
  const r = s.rollout;
  if (r) {
    const why = r.error ? `: ${r.error.code}: ${r.error.message}` : '';
    lines.push(`last rollout: generation ${r.generation} ${r.state}${why}`);
  }
  return lines.join('\n');
}
