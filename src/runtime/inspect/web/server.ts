import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineToMermaid, transitionLabel } from '../../../actors/diagram.ts';
import { MACHINES } from '../../../actors/machines.ts';
import { toErrorData } from '../../../protocol/index.ts';
import type { InspectEvent } from '../events.ts';
import type { InspectSource, StatusReply } from '../source.ts';

export interface InspectorServerOptions {
  source: InspectSource;
  /** 0 picks a free port. */
  port: number;
  /** Loopback by default: the page shows the pool to whoever can open it. */
  host?: string;
  /** How often the status is pushed to open pages. */
  statusEveryMs?: number;
  /** Transitions replayed to a page when it connects. */
  replay?: number;
}

export interface InspectorServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const WEB_DIR = dirname(fileURLToPath(import.meta.url));
const MERMAID = join(dirname(createRequire(import.meta.url).resolve('mermaid/package.json')), 'dist');

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(WEB_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(WEB_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: join(WEB_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/mermaid.min.js': { file: join(MERMAID, 'mermaid.min.js'), type: 'text/javascript; charset=utf-8' },
};

/**
 * The statecharts the page draws: mermaid text made from the machines that run, with two changes
 * for a screen. Mermaid shows a state's only description instead of its name, so the name comes
 * first with `invokes ...` under it. A transition of the whole machine (CANCEL, FAIL) is drawn
 * once in a note instead of once per state, which keeps the chart narrow enough to read.
 */
export function machineCharts(): Record<string, { mermaid: string; states: string[] }> {
  return Object.fromEntries(
    Object.entries(MACHINES).map(([name, machine]) => {
      const everywhere = [...machine.root.transitions.values()]
        .flat()
        .filter((t) => t.target?.length)
        .map((t) => ({ label: transitionLabel(t), target: t.target?.[0]?.key ?? '' }));
      const lines = machineToMermaid(machine)
        .replace(
          /^(\s*)([A-Za-z0-9_]+): invokes /gm,
          (_, indent: string, state: string) => `${indent}${state}: ${state}\n${indent}${state}: invokes `,
        )
        .split('\n')
        .filter(
          (l) =>
            !everywhere.some((e) => new RegExp(`^  \\w+ --> ${e.target}: ${escapeRegExp(e.label)}$`).test(l)),
        );
      const first = machine.root.initial?.target?.[0]?.key;
      if (everywhere.length && first) {
        const note = [`  note left of ${first}`, '    From every state:'];
        for (const e of everywhere) note.push(`    ${e.label} → ${e.target}`);
        note.push('  end note');
        lines.splice(lines.length - 1, 0, ...note);
      }
      return [name, { mermaid: lines.join('\n'), states: Object.keys(machine.root.states) }];
    }),
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The web inspector: a local page (no CDN; mermaid is served from the installed package), fed
 * over Server-Sent Events with the pool's inspection events and its status every second.
 */
export async function startInspectorServer(o: InspectorServerOptions): Promise<InspectorServer> {
  const clients = new Set<ServerResponse>();
  const recent: InspectEvent[] = [];
  const replay = o.replay ?? 300;
  const charts = JSON.stringify(machineCharts());
  let lastStatus: StatusReply | undefined;

  const send = (res: ServerResponse, event: string, data: string) =>
    res.write(`event: ${event}\ndata: ${data}\n\n`);
  const unsubscribe = o.source.subscribe((e) => {
    recent.push(e);
    if (recent.length > replay) recent.splice(0, recent.length - replay);
    const data = JSON.stringify(e);
    for (const res of clients) send(res, 'inspect', data);
  });
  const pushStatus = async () => {
    if (clients.size === 0) return;
    try {
      lastStatus = await o.source.status(2000);
      const data = JSON.stringify(lastStatus);
      for (const res of clients) send(res, 'status', data);
    } catch (err) {
      const { message } = toErrorData(err);
      for (const res of clients) send(res, 'problem', JSON.stringify({ message }));
    }
  };
  const statusTimer = setInterval(() => void pushStatus(), o.statusEveryMs ?? 1000);
  statusTimer.unref();

  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://inspector');
    if (req.method !== 'GET') return json(res, 405, { error: 'only GET' });
    const asset = STATIC[url.pathname];
    if (asset) {
      const body = await readFile(asset.file);
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
      return res.end(body);
    }
    switch (url.pathname) {
      case '/favicon.ico':
        res.writeHead(204);
        return res.end();
      case '/api/machines':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(charts);
      case '/api/status':
        return json(res, 200, await o.source.status(2000));
      case '/api/history': {
        const session = url.searchParams.get('session') ?? '';
        try {
          return json(res, 200, await o.source.history(session));
        } catch (err) {
          const error = toErrorData(err);
          return json(res, error.code === 'unknown_session' ? 404 : 502, { error });
        }
      }
      case '/events': {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          connection: 'keep-alive',
        });
        send(res, 'hello', JSON.stringify({ pool: o.source.pool }));
        if (lastStatus) send(res, 'status', JSON.stringify(lastStatus));
        for (const e of recent) send(res, 'inspect', JSON.stringify(e));
        clients.add(res);
        req.on('close', () => clients.delete(res));
        if (clients.size === 1) void pushStatus();
        return;
      }
      default:
        return json(res, 404, { error: `no ${url.pathname}` });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: toErrorData(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}/`,
    port,
    async close() {
      clearInterval(statusTimer);
      unsubscribe();
      for (const res of clients) res.end();
      clients.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
