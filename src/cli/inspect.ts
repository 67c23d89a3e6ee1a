import { emitKeypressEvents } from 'node:readline';
import { toErrorData } from '../protocol/index.ts';
import type { InspectEvent } from '../runtime/inspect/events.ts';
import { renderHistory, renderView } from '../runtime/inspect/render.ts';
import { NatsInspectSource } from '../runtime/inspect/source.ts';
import { PoolView, SORT_KEYS, type SortKey, type ViewFilter } from '../runtime/inspect/view-model.ts';
import { createLogger } from '../runtime/logger.ts';
import type { NatsAuthFlags } from '../runtime/nats/auth.ts';
import { RequestFailedError } from '../runtime/nats/bus.ts';
import { CliError } from './errors.ts';
import { cliNatsAuth } from './nats-auth.ts';

export interface InspectFlags extends NatsAuthFlags {
  nats?: string;
  pool: string;
  once?: boolean;
  json?: boolean;
  session?: string;
  agent?: string;
  worker?: string;
  web?: boolean;
  port?: number;
  host?: string;
}

/** `openrtc inspect`: a live view of a pool (terminal or web), its event stream, or one session's history. */
export async function inspectCommand(flags: InspectFlags): Promise<number> {
  if (!flags.nats) throw new CliError('inspect needs --nats or NATS_URL (the pool prints its URL)');
  const source = await NatsInspectSource.connect({
    url: flags.nats,
    pool: flags.pool,
    log: createLogger({ level: 'warn' }),
    natsAuth: cliNatsAuth(flags),
  });
  const filter: ViewFilter = {
    ...(flags.agent ? { agent: flags.agent } : {}),
    ...(flags.worker ? { worker: flags.worker } : {}),
  };
  try {
    if (flags.session) return await printHistory(source, flags.session, flags.json === true);
    if (flags.web) return await serveWeb(source, flags);
    if (flags.once) return await printOnce(source, filter, flags.json === true);
    if (flags.json) return await streamJson(source, filter);
    return await liveView(source, filter);
  } catch (err) {
    if (err instanceof RequestFailedError) {
      throw new CliError(`pool '${flags.pool}' at ${flags.nats}: ${err.error.message}`, 1);
    }
    throw err;
  } finally {
    await source.close();
  }
}

async function printHistory(source: NatsInspectSource, session: string, json: boolean): Promise<number> {
  const h = await source.history(session);
  process.stdout.write(json ? `${JSON.stringify(h)}\n` : renderHistory(h, Date.now()));
  return 0;
}

async function printOnce(source: NatsInspectSource, filter: ViewFilter, json: boolean): Promise<number> {
  const status = await source.status();
  if (json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return 0;
  }
  const view = new PoolView(source.pool);
  view.setStatus(status);
  const lines = renderView(view, { filter, sort: 'state', now: Date.now(), width: 200 });
  // A snapshot has no transitions yet: leave out the empty log.
  const cut = lines.indexOf('RECENT TRANSITIONS');
  process.stdout.write(`${lines.slice(0, cut > 0 ? cut - 1 : lines.length).join('\n')}\n`);
  return 0;
}

function matchesFilter(e: InspectEvent, f: ViewFilter): boolean {
  const agent = e.summary.agent;
  const worker = e.actor.kind === 'worker' ? e.actor.id : (e.actor.parent ?? e.summary.worker);
  if (f.agent && agent !== f.agent) return false;
  if (f.worker && worker !== f.worker) return false;
  return true;
}

async function streamJson(source: NatsInspectSource, filter: ViewFilter): Promise<number> {
  source.subscribe((e) => {
    if (matchesFilter(e, filter)) process.stdout.write(`${JSON.stringify(e)}\n`);
  });
  await source.flush();
  // On stderr, so stdout stays pure NDJSON; it also tells a script the stream is live.
  process.stderr.write(`streaming inspection events of pool '${source.pool}' as NDJSON (ctrl-c stops)\n`);
  await untilSignal();
  return 0;
}

async function serveWeb(source: NatsInspectSource, flags: InspectFlags): Promise<number> {
  const { startInspectorServer } = await import('../runtime/inspect/web/server.ts');
  const server = await startInspectorServer({
    source,
    port: flags.port ?? 7070,
    host: flags.host ?? '127.0.0.1',
  });
  process.stderr.write(`openrtc inspector for pool '${source.pool}' on ${server.url}\n`);
  await untilSignal();
  await server.close();
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** The top-like view: redraws on every transition (at most 10 times a second) and every second. */
async function liveView(source: NatsInspectSource, fixed: ViewFilter): Promise<number> {
  const out = process.stdout;
  const input = process.stdin;
  const view = new PoolView(source.pool);
  let sort: SortKey = 'state';
  let text = '';
  let prompt: string | null = null;
  let dirty = true;
  let lastError = '';
  source.subscribe((e) => {
    view.apply(e);
    dirty = true;
  });
  const poll = async () => {
    try {
      view.setStatus(await source.status(2000));
      lastError = '';
    } catch (err) {
      lastError = toErrorData(err).message;
    }
    dirty = true;
  };
  await poll();
  const draw = () => {
    if (!dirty) return;
    dirty = false;
    const footer =
      prompt !== null
        ? `filter: ${prompt}_   (enter applies, esc cancels)`
        : `q quit  f filter  s sort (${SORT_KEYS.join('/')})${lastError ? `   ! ${lastError}` : ''}`;
    const lines = renderView(view, {
      filter: { ...fixed, ...(text ? { text } : {}) },
      sort,
      now: Date.now(),
      width: out.columns ?? 120,
      height: out.rows ?? 40,
      footer,
    });
    out.write(`\x1b[H\x1b[2J${lines.join('\n')}`);
  };
  out.write('\x1b[?1049h\x1b[?25l');
  const pollTimer = setInterval(() => void poll(), 1000);
  const drawTimer = setInterval(draw, 100);
  const tick = setInterval(() => {
    dirty = true;
  }, 1000);
  try {
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      if (!input.isTTY) return;
      emitKeypressEvents(input);
      input.setRawMode(true);
      input.resume();
      input.on('keypress', (str: string | undefined, key: { name?: string; ctrl?: boolean }) => {
        dirty = true;
        if (key.ctrl && key.name === 'c') return resolve();
        if (prompt !== null) {
          if (key.name === 'return') [text, prompt] = [prompt, null];
          else if (key.name === 'escape') prompt = null;
          else if (key.name === 'backspace') prompt = prompt.slice(0, -1);
          else if (str && str >= ' ') prompt += str;
          return;
        }
        if (key.name === 'q') resolve();
        else if (key.name === 'f') prompt = text;
        else if (key.name === 's')
          sort = SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length] ?? 'state';
      });
    });
  } finally {
    clearInterval(pollTimer);
    clearInterval(drawTimer);
    clearInterval(tick);
    if (input.isTTY) {
      input.setRawMode(false);
      input.pause();
    }
    out.write('\x1b[?25h\x1b[?1049l');
  }
  return 0;
}
