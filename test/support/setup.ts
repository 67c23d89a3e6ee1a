import { afterAll, afterEach } from 'vitest';
import { testOutput } from './output.ts';

// Every vitest worker process: what would reach the terminal goes to the current test's buffer
// (agents-js logs to process.stdout; worker processes and child commands are piped here by
// test/support/pool.ts and processes.ts). A failing test prints its buffer; a passing one drops it.
// Files share a vitest worker (`isolate: false`), and this file runs again before each of them:
// the terminal's own write is kept once, on the process, never a previous file's capture.
const REAL_STDERR = Symbol.for('openrtc.test.realStderrWrite');
const holder = process as unknown as Record<symbol, typeof process.stderr.write | undefined>;
holder[REAL_STDERR] ??= process.stderr.write.bind(process.stderr);
const realStderrWrite = holder[REAL_STDERR];
const capture = (chunk: string | Uint8Array, encodingOrCb?: unknown, cb?: unknown): boolean => {
  testOutput.write(chunk);
  const done = typeof encodingOrCb === 'function' ? encodingOrCb : cb;
  if (typeof done === 'function') done();
  return true;
};
if (process.env.OPENRTC_TEST_OUTPUT !== 'inherit') {
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
}

function flush(title: string): void {
  const out = testOutput.take();
  if (out) realStderrWrite(`\n──── output of ${title} ────\n${out}${out.endsWith('\n') ? '' : '\n'}────\n`);
}

let failedInFile = false;

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    failedInFile = true;
    flush(`"${ctx.task.name}" (failed)`);
  } else testOutput.take();
});

interface TaskLike {
  result?: { state?: string };
  tasks?: TaskLike[];
}
const anyFailed = (t: TaskLike): boolean =>
  t.result?.state === 'fail' || (t.tasks ?? []).some((c) => anyFailed(c));

// biome-ignore lint/correctness/noEmptyPattern: vitest reads a hook's first parameter as its fixtures.
afterAll(({}, file) => {
  // Output after the last test matters only if something in the file failed (a test or a hook).
  if (failedInFile || anyFailed(file as TaskLike)) flush('a failed hook or teardown');
  else testOutput.take();
});
