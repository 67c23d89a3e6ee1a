#!/usr/bin/env node
// Where a test run's CPU goes, process by process.
//
// Record: preload this file into every Node process of a run (NODE_OPTIONS reaches every child):
//   OPENRTC_PROCESS_CPU_LOG=/tmp/cpu.jsonl NODE_OPTIONS="--require $PWD/scripts/process-cpu.cjs" npx vitest run
// Each process's main thread appends a `start` line, and an `exit` line with its CPU time (user +
// system, all threads) when it exits normally. A process killed by a signal it does not handle
// (SIGKILL, or SIGTERM without a handler) has a start and no exit: the summary counts it apart.
//
// Summarise: node scripts/process-cpu.cjs /tmp/cpu.jsonl [--json]
// groups by what ran (an `openrtc` command, npm, tsc, ...) with the count and CPU seconds of each.
// Only Node processes are seen: nats-server and Chromium are not, nor is vitest's own work apart
// from its processes' totals.
const fs = require('node:fs');
const { isMainThread } = require('node:worker_threads');

const LOG = process.env.OPENRTC_PROCESS_CPU_LOG;

/** What a process is, from its arguments: an openrtc command, or its script. */
function kind(argv) {
  const args = argv.join(' ');
  const openrtc = args.match(/(?:bin\/openrtc\.js|cli\/main\.[jt]s)\s+([a-z-]+)/);
  if (openrtc) return `openrtc ${openrtc[1]}`;
  const script = argv[0] ?? '';
  if (/\bnpm(-cli)?(\.js)?$/.test(script) || /\/npm\//.test(script)) return `npm ${argv[1] ?? ''}`.trim();
  if (/\bnpx(-cli)?(\.js)?$/.test(script)) return `npx ${argv[1] ?? ''}`.trim();
  const bin = script.match(/node_modules\/\.bin\/([^/]+)$/);
  if (bin) return bin[1];
  const pkg = script.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (pkg) return pkg[1];
  return script.replace(/^.*\//, '') || '(node -e / stdin)';
}

function record() {
  const started = Date.now();
  const base = { pid: process.pid, ppid: process.ppid, kind: kind(process.argv.slice(1)) };
  const write = (line) => {
    try {
      fs.appendFileSync(LOG, `${JSON.stringify(line)}\n`);
    } catch {
      // a full disk or a removed folder must not change what the process does
    }
  };
  write({ ev: 'start', ...base, t: started });
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    write({ ev: 'exit', ...base, cpuS: (cpu.user + cpu.system) / 1e6, wallS: (Date.now() - started) / 1000 });
  });
}

function summarise(file, json) {
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`${file}:${i + 1}: not a JSON line`);
      }
    });
  const exits = new Map(lines.filter((l) => l.ev === 'exit').map((l) => [l.pid, l]));
  const groups = new Map();
  for (const s of lines.filter((l) => l.ev === 'start')) {
    const g = groups.get(s.kind) ?? { kind: s.kind, processes: 0, cpuS: 0, killed: 0 };
    g.processes++;
    const e = exits.get(s.pid);
    if (e) g.cpuS += e.cpuS;
    else g.killed++;
    groups.set(s.kind, g);
  }
  const rows = [...groups.values()].sort((a, b) => b.cpuS - a.cpuS);
  const total = rows.reduce((sum, r) => sum + r.cpuS, 0);
  if (json) {
    process.stdout.write(`${JSON.stringify({ totalCpuS: total, groups: rows })}\n`);
    return;
  }
  process.stdout.write(`CPU s   procs  no exit  per proc  what\n`);
  for (const r of rows) {
    const measured = r.processes - r.killed;
    const per = measured ? (r.cpuS / measured).toFixed(2) : '-';
    process.stdout.write(
      `${r.cpuS.toFixed(1).padStart(6)}  ${String(r.processes).padStart(5)}  ${String(r.killed).padStart(7)}  ${per.padStart(8)}  ${r.kind}\n`,
    );
  }
  process.stdout.write(`${total.toFixed(1).padStart(6)}  total of the processes that exited normally\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file || args.includes('--help')) {
    process.stderr.write(
      'usage: node scripts/process-cpu.cjs <log.jsonl> [--json]   (see the top of this file)\n',
    );
    process.exit(file ? 0 : 2);
  }
  try {
    summarise(file, args.includes('--json'));
  } catch (err) {
    process.stderr.write(`process-cpu: ${err.message}\n`);
    process.exit(1);
  }
} else if (LOG && isMainThread) {
  record();
}
