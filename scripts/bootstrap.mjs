#!/usr/bin/env node
// One bootstrap for `npm test`, `npm run demo` and `.ci/run`: makes a fresh clone runnable.
// - installs node_modules with `npm ci` when missing or older than package-lock.json;
// - installs nats-server with apt-get when missing on Debian/Ubuntu as root;
// - otherwise says exactly what to install and exits 2.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const log = (msg) => {
  if (!quiet) process.stderr.write(`[bootstrap] ${msg}\n`);
};

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function nodeModulesStale() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs;
}

function findNatsServer() {
  if (process.env.NATS_SERVER_BIN)
    return existsSync(process.env.NATS_SERVER_BIN) ? process.env.NATS_SERVER_BIN : null;
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return null;
}

if (nodeModulesStale()) {
  // `npm ci` deletes node_modules first: through a link, that is another checkout's install.
  const modules = join(root, 'node_modules');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    console.error(
      `[bootstrap] node_modules is a link (to ${realpathSync(modules)}) and looks older than package-lock.json; not reinstalling through it. Run npm ci where it points, or replace the link with a real install.`,
    );
    process.exit(2);
  }
  log('node_modules missing or stale: npm ci');
  // onnxruntime-node's postinstall downloads CUDA binaries; offline it fails. The CPU build is bundled.
  if (run('npm', ['ci', '--no-audit', '--no-fund'], { ONNXRUNTIME_NODE_INSTALL: 'skip' }) !== 0) {
    console.error('[bootstrap] npm ci failed; see the output above.');
    process.exit(2);
  }
}

if (!findNatsServer()) {
  const isDebian = existsSync('/etc/debian_version');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isDebian && isRoot) {
    log('nats-server missing: apt-get install -y nats-server');
    run('apt-get', ['update', '-qq']);
    if (
      run('apt-get', ['install', '-y', '-qq', 'nats-server'], { DEBIAN_FRONTEND: 'noninteractive' }) !== 0 ||
      !findNatsServer()
    ) {
      console.error('[bootstrap] apt-get install nats-server failed.');
      process.exit(2);
    }
  } else {
    console.error(
      '[bootstrap] nats-server not found (looked in PATH, /usr/sbin and NATS_SERVER_BIN).\n' +
        '  Debian/Ubuntu: sudo apt-get install -y nats-server\n' +
        '  macOS:         brew install nats-server\n' +
        '  or set NATS_SERVER_BIN=/path/to/nats-server',
    );
    process.exit(2);
  }
}
log('ready');
