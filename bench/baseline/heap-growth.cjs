// Preloaded (NODE_OPTIONS="--require <this file>") into the agents-js side's processes by the
// density benchmark's heap-growth pass, so both sides run with the same V8 heap growth as the
// pool's workers get from `--heap-growth` (V8's --heap-growing-percent, read at every full GC).
const percent = Number(process.env.OPENRTC_BENCH_HEAP_GROWTH);
if (!Number.isInteger(percent) || percent < 1)
  throw new Error(
    `OPENRTC_BENCH_HEAP_GROWTH must be a positive integer, got '${process.env.OPENRTC_BENCH_HEAP_GROWTH}'`,
  );
require('node:v8').setFlagsFromString(`--heap-growing-percent=${percent}`);
