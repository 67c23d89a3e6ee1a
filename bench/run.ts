/**
 * The benchmark suite: density, capacity, dispatch, failover and protocol, one after another, each
 * in its own process. Prints their five JSON lines on stdout (their logs go to stderr); arguments
 * (`--quick`, `--smoke`) pass through. Exits non-zero if any benchmark failed.
 *
 *   npm run bench [-- --quick]
 */
import { spawn } from 'node:child_process';
import { ROOT } from './lib/report.ts';

const BENCHES = ['density', 'capacity', 'dispatch', 'failover', 'protocol'] as const;
const args = process.argv.slice(2);

/** protocol.bench.ts knows `--quick` only: its tiniest run is its quick run. */
const argsFor = (name: string) =>
  name === 'protocol'
    ? args.map((a) => (a === '--smoke' ? '--quick' : a)).filter((a, i, all) => all.indexOf(a) === i)
    : args;

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, `${ROOT}bench/${name}.bench.ts`, ...argsFor(name)],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        cwd: ROOT,
      },
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

let failed = 0;
for (const name of BENCHES) {
  const started = Date.now();
  process.stderr.write(`[bench] ${name} ${args.join(' ')}\n`);
  const code = await runOne(name);
  process.stderr.write(
    `[bench] ${name} ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
  if (code !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
