// Lets a benchmark ask a process it did not start itself (a pool's worker) where its memory is:
// preload it with NODE_OPTIONS="--require <this file>" and OPENRTC_MEMORY_PROBE_DIR=<dir>; on
// SIGUSR2 the process writes <dir>/<pid>.json with process.memoryUsage() and V8's heap spaces,
// before and after a full garbage collection (so live data and collectable garbage are told apart),
// and, with OPENRTC_MEMORY_PROBE_SNAPSHOT=1, a heap snapshot next to it.
const { writeFileSync, renameSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');

const dir = process.env.OPENRTC_MEMORY_PROBE_DIR;
if (dir) {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const mb = (x) => Math.round((x / 2 ** 20) * 100) / 100;
  const read = () => {
    const m = process.memoryUsage();
    const spaces = Object.fromEntries(
      v8.getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_used_size)]),
    );
    return {
      rss: mb(m.rss),
      heapTotal: mb(m.heapTotal),
      heapUsed: mb(m.heapUsed),
      external: mb(m.external),
      arrayBuffers: mb(m.arrayBuffers),
      spaces,
    };
  };
  process.on('SIGUSR2', () => {
    mkdirSync(dir, { recursive: true });
    const before = read();
    gc();
    const after = read();
    let snapshot;
    if (process.env.OPENRTC_MEMORY_PROBE_SNAPSHOT === '1')
      snapshot = v8.writeHeapSnapshot(join(dir, `${process.pid}-${Date.now()}.heapsnapshot`));
    const file = join(dir, `${process.pid}.json`);
    writeFileSync(
      `${file}.tmp`,
      JSON.stringify({ pid: process.pid, at: Date.now(), before, after, snapshot }),
    );
    renameSync(`${file}.tmp`, file);
  });
}
