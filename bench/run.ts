/**
 * The benchmark suite: capacity, density, dispatch, failover, protocol, soak and startup, one after
 * another, each in its own process. Prints their seven JSON lines on stdout (their logs go to
 * stderr); arguments (`--quick`, `--smoke`) pass through. Exits non-zero if any benchmark failed or
 * its line lacks a field it must report (bench/lib/fields.ts). CI runs `npm run bench -- --smoke`.
 *
 * A full run with `--write-docs` keeps its lines in docs/benchmarks/results.json, and from them
 * writes docs/benchmarks/README.md and README.md's "How it compares" table (between its
 * `bench:compare` markers). `--only a,b` runs those benchmarks alone; with `--write-docs` their
 * lines replace theirs in results.json (the others stay) and both tables are written again.
 * `--docs-only` runs none: it writes both tables again from results.json (after a generator change).
 *
 *   npm run bench [-- --quick] [-- --write-docs] [-- --only startup] [-- --docs-only --write-docs]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { COMPARE_END, COMPARE_START, compareSection, type RunRecord, replaceMarked } from './lib/compare.ts';
import { resultProblems } from './lib/fields.ts';
import { benchMode } from './lib/mode.ts';
import { ROOT, writeDoc } from './lib/report.ts';
import { summaryDoc } from './lib/summary-doc.ts';

// capacity first: density measures at the sustainable N it finds (OPENRTC_BENCH_DENSITY_N).
const ALL = ['capacity', 'density', 'dispatch', 'failover', 'protocol', 'soak', 'startup'] as const;
const argv = process.argv.slice(2);
const USAGE = `usage: npm run bench [-- OPTIONS]   (or: npx tsx bench/run.ts [OPTIONS])

Runs ${ALL.join(', ')}, one after another, each in its own process, and prints one JSON line each.

  --quick        smaller sizes (under a minute per benchmark on 2 cores)
  --smoke        the tiniest run that still exercises every part (CI)
  --only a,b     run these benchmarks alone
  --write-docs   a full run writes docs/benchmarks/ and README.md's comparison table
                 (with --only: those benchmarks' lines replace theirs in results.json)
  --docs-only    run nothing; with --write-docs, write both tables again from results.json
  -h, --help     this text
`;
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const KNOWN = new Set(['--quick', '--smoke', '--only', '--write-docs', '--docs-only']);
const unknown = argv.filter((a, i) => !KNOWN.has(a) && argv[i - 1] !== '--only');
if (unknown.length > 0) {
  process.stderr.write(`[bench] unknown argument ${unknown.map((a) => `'${a}'`).join(', ')}\n\n${USAGE}`);
  process.exit(2);
}
const onlyAt = argv.indexOf('--only');
const only = argv.includes('--docs-only')
  ? []
  : onlyAt >= 0
    ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean)
    : undefined;
for (const name of only ?? [])
  if (!(ALL as readonly string[]).includes(name)) {
    process.stderr.write(`[bench] --only: no benchmark '${name}' (one of ${ALL.join(', ')})\n`);
    process.exit(2);
  }
const BENCHES = only ? ALL.filter((b) => only.includes(b)) : ALL;
const args = (onlyAt >= 0 ? argv.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : argv).filter(
  (a) => a !== '--docs-only',
);
const RESULTS = `${ROOT}docs/benchmarks/results.json`;

/** protocol.bench.ts knows `--quick` only: its tiniest run is its quick run. */
const argsFor = (name: string) =>
  name === 'protocol'
    ? args.map((a) => (a === '--smoke' ? '--quick' : a)).filter((a, i, all) => all.indexOf(a) === i)
    : args;

/** Runs one benchmark; its stdout passes through and is kept (its JSON line). */
function runOne(name: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, `${ROOT}bench/${name}.bench.ts`, ...argsFor(name)],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT, env: { ...process.env, ...env } },
    );
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), stdout }));
  });
}

if (only && args.includes('--write-docs') && benchMode() === 'full' && !existsSync(RESULTS)) {
  process.stderr.write(`[bench] ${RESULTS} missing: --only and --docs-only add to a full run's lines\n`);
  process.exit(2);
}

/** The kept full run's lines: --only adds to them, and density takes its N from their capacity. */
const kept: RunRecord | undefined = existsSync(RESULTS)
  ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as RunRecord)
  : undefined;
let failed = 0;
const results: Record<string, Record<string, unknown>> = {};
for (const name of BENCHES) {
  const started = Date.now();
  process.stderr.write(`[bench] ${name} ${args.join(' ')}\n`);
  // Density runs at the sustainable N: capacity's of this run, else (a full `--only` run) the
  // kept full run's; quick and smoke runs without capacity keep density's own small N.
  const sameRun = results.capacity?.pool_sessions;
  const sustainable =
    sameRun ??
    (only && name === 'density' && benchMode() === 'full'
      ? kept?.results.capacity?.pool_sessions
      : undefined);
  const env =
    name === 'density' && typeof sustainable === 'number' && sustainable > 0
      ? {
          OPENRTC_BENCH_DENSITY_N: String(sustainable),
          OPENRTC_BENCH_DENSITY_N_FROM: sameRun === undefined ? 'results.json' : 'this run',
        }
      : {};
  const { code, stdout } = await runOne(name, env);
  try {
    results[name] = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    // no JSON line: counted as failed below through its exit code
  }
  process.stderr.write(
    `[bench] ${name} ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
  if (code !== 0) failed += 1;
  else {
    const problems = resultProblems(name, stdout);
    for (const p of problems) process.stderr.write(`[bench] ${p}\n`);
    if (problems.length) failed += 1;
  }
}
if (benchMode() === 'full' && args.includes('--write-docs')) {
  // Failed benchmarks keep their previous line (if any); the summary says which run each came from.
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).stdout.trim();
  const date = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const run: RunRecord =
    only && kept
      ? {
          ...kept,
          results: { ...kept.results, ...results },
          reruns: [
            ...(kept.reruns ?? []).filter((r) => !(r.bench in results)),
            ...Object.keys(results).map((bench) => ({ bench, date, commit })),
          ],
        }
      : { date, commit, results };
  writeFileSync(RESULTS, `${JSON.stringify(run, null, 1)}\n`);
  const dir = `${ROOT}docs/benchmarks/profiles/`;
  const profiles = Object.fromEntries(
    (existsSync(dir) ? readdirSync(dir) : [])
      .filter((f) => f.endsWith('.json'))
      .map((f) => [f, JSON.parse(readFileSync(dir + f, 'utf8')) as unknown]),
  );
  const path = writeDoc('full', 'README', summaryDoc(run, profiles));
  const readme = `${ROOT}README.md`;
  writeFileSync(
    readme,
    replaceMarked(readFileSync(readme, 'utf8'), compareSection(run), COMPARE_START, COMPARE_END),
  );
  process.stderr.write(`[bench] ${RESULTS}, ${path} and ${readme} written\n`);
}
process.exit(failed ? 1 : 0);
