/**
 * The benchmark suite: capacity, density, dispatch, failover, protocol, soak and startup, one after
 * another, each in its own process. Prints their seven JSON lines on stdout (their logs go to
 * stderr); arguments (`--quick`, `--smoke`) pass through. Exits non-zero if any benchmark failed or
 * its line lacks a field it must report (bench/lib/fields.ts). CI runs `npm run bench -- --smoke`.
 *
 *   npm run bench [-- --quick]
 */
import { spawn } from 'node:child_process';
import { resultProblems } from './lib/fields.ts';
import { benchMode } from './lib/mode.ts';
import { ROOT, writeDoc } from './lib/report.ts';
import { summaryDoc } from './lib/summary-doc.ts';

// capacity first: density measures at the sustainable N it finds (OPENRTC_BENCH_DENSITY_N).
const BENCHES = ['capacity', 'density', 'dispatch', 'failover', 'protocol', 'soak', 'startup'] as const;
const args = process.argv.slice(2);

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

let failed = 0;
const results: Record<string, Record<string, unknown>> = {};
for (const name of BENCHES) {
  const started = Date.now();
  process.stderr.write(`[bench] ${name} ${args.join(' ')}\n`);
  const sustainable = results.capacity?.pool_sessions;
  const env =
    name === 'density' && typeof sustainable === 'number' && sustainable > 0
      ? { OPENRTC_BENCH_DENSITY_N: String(sustainable) }
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
if (!failed && benchMode() === 'full') {
  const path = writeDoc('full', 'README', summaryDoc(results));
  if (path) process.stderr.write(`[bench] summary written to ${path}\n`);
}
process.exit(failed ? 1 : 0);
