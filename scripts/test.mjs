#!/usr/bin/env node
// `npm test`: typecheck, lint and every vitest project (unit and integration, together), the
// first two beside the tests rather than before them: tsc takes half a minute of one core, and the
// integration files spend most of their time waiting on speech played in real time.
// Exits non-zero if any of the three fails; extra arguments go to vitest.
import { spawn } from 'node:child_process';

const bin = (name) => new URL(`../node_modules/${name}`, import.meta.url).pathname;

/** Runs a check with its output kept; prints it only when the check fails. */
function quiet(label, file, args) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin(file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', (err) => resolve({ label, ok: false, out: `${err.message}\n` }));
    child.once('exit', (code, signal) => {
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      resolve({
        label,
        ok: code === 0,
        out,
        summary: `${label}: ${code === 0 ? 'ok' : `failed (${signal ?? code})`} in ${secs} s`,
      });
    });
  });
}

const checks = [
  quiet('typecheck', 'typescript/bin/tsc', ['--noEmit', '-p', 'tsconfig.json']),
  quiet('lint', '@biomejs/biome/bin/biome', ['check', '.']),
];
const vitest = new Promise((resolve) => {
  const child = spawn(process.execPath, [bin('vitest/vitest.mjs'), 'run', ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.once('exit', (code, signal) => resolve(code === 0 && !signal));
});

const results = await Promise.all(checks);
const testsOk = await vitest;
for (const r of results) {
  if (!r.ok) process.stderr.write(`\n──── ${r.label} ────\n${r.out}`);
  process.stderr.write(`${r.summary ?? `${r.label}: failed`}\n`);
}
process.exit(testsOk && results.every((r) => r.ok) ? 0 : 1);
