// Writes a V8 CPU profile of any node process that preloads it, for finding where a benchmark's
// time goes (node refuses --cpu-prof in NODE_OPTIONS; --require is allowed, and children inherit it):
//   OPENRTC_CPU_PROFILE_DIR=/tmp/prof NODE_OPTIONS="--require ./bench/profile/cpu-profile.cjs" npm run bench:dispatch -- --quick
// The profile is written when the process exits normally (not on SIGKILL).
const { Session } = require('node:inspector');
const { writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.OPENRTC_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', {
    interval: Number(process.env.OPENRTC_CPU_PROFILE_US ?? 200),
  });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      const role = process.argv
        .slice(2, 4)
        .join('-')
        .replace(/[^\w.-]+/g, '_')
        .slice(-60);
      writeFileSync(join(dir, `${process.pid}-${role}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
