#!/usr/bin/env node
// `npm run test:stress`: the integration project while a plain busy loop holds one core, the way
// CI's shared two-core machine is loaded by other work. Extra arguments go to vitest.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const hogs = Number(process.env.OPENRTC_STRESS_HOGS ?? 1);
const children = [];
for (let i = 0; i < hogs; i++) {
  children.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}
process.stderr.write(
  `[stress] ${hogs} busy loop(s) on ${availableParallelism()} core(s): ${children.map((c) => c.pid).join(', ')}\n`,
);
const stopHogs = () => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', stopHogs);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const vitest = spawn(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--project', 'integration', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
vitest.on('exit', (code, signal) => {
  stopHogs();
  process.exit(code ?? (signal ? 1 : 0));
});
