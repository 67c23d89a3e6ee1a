import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { CliError } from './errors.ts';

interface OwnPackage {
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** This package's package.json (the same path from src/cli and dist/cli). */
function ownPackage(): OwnPackage {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as OwnPackage;
}

/** An npm package name from a folder name. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '');
  return name || 'openrtc-agents';
}

/** The files of a new project, by path. */
export function scaffold(dir: string): Record<string, string> {
  const own = ownPackage();
  const pkg = {
    name: packageName(dir),
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      dev: 'openrtc dev ./agents',
      test: 'node --import tsx --test test/hello.test.ts',
      typecheck: 'tsc --noEmit',
    },
    dependencies: {
      openrtc: `^${own.version}`,
      ...own.peerDependencies,
    },
    devDependencies: {
      '@types/node': own.devDependencies['@types/node'] ?? '^20.19.0',
      tsx: own.dependencies.tsx ?? '^4.20.0',
      typescript: own.devDependencies.typescript ?? '^5.9.0',
    },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
    },
    include: ['agents', 'test'],
  };
  return {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    '.gitignore': 'node_modules/\n',
    'agents/hello.ts': HELLO_AGENT,
    'test/hello.test.ts': HELLO_TEST,
  };
}

const HELLO_AGENT = `import { voice } from '@livekit/agents';
import { defineAgent } from 'openrtc';

class Hello extends voice.Agent {
  constructor() {
    super({ instructions: 'You are a friendly voice assistant. Keep your answers short.' });
  }
}

/**
 * One agent of the pool: \`openrtc dev\` serves every module in ./agents. Jobs for rooms named
 * hello-* (or dispatched with --agent hello) run it.
 */
export default defineAgent({
  name: 'hello',
  greeting: { say: 'Hello! How can I help?' },
  // With LiveKit inference (LIVEKIT_API_KEY and LIVEKIT_API_SECRET set), for example:
  // providers: { stt: 'deepgram/nova-3:en', llm: 'openai/gpt-4.1-mini', tts: 'cartesia/sonic-3' },
  agent: Hello,
});
`;

const HELLO_TEST = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runAgent } from 'openrtc/testing';

const hello = fileURLToPath(new URL('../agents/hello.ts', import.meta.url));

test('hello greets the caller, and its session closes when the call ends', async () => {
  // A pool of one worker on a local nats-server; the session hears 1 s of silence, then ends.
  const outcome = await runAgent(hello, { audio: { silenceMs: 1000 } });
  assert.equal(outcome.state, 'closed', outcome.error);
  assert.deepEqual(outcome.states, ['prewarming', 'connecting', 'greeting', 'active', 'closing', 'closed']);
});
`;

type Json = Record<string, unknown>;

/**
 * An existing package.json with what the project needs added: "type": "module", and the
 * dependencies and scripts it does not have yet (what it has is kept, e.g. `openrtc` from a tarball).
 */
function mergePackageJson(file: string, ours: Json): string {
  let theirs: Json;
  try {
    theirs = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new CliError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  // npm init writes "type": "commonjs"; agent modules are ES modules.
  if (theirs.type !== undefined && theirs.type !== 'module' && theirs.type !== 'commonjs') {
    throw new CliError(`${file}: "type" is ${JSON.stringify(theirs.type)}, expected "module"`);
  }
  const merged: Json = { ...theirs, type: 'module' };
  for (const key of ['scripts', 'dependencies', 'devDependencies']) {
    merged[key] = { ...(ours[key] as Json), ...(theirs[key] as Json | undefined) };
  }
  // `npm init`'s placeholder test script gives way to the project's test.
  const scripts = merged.scripts as Json;
  if (/no test specified/.test(String((theirs.scripts as Json | undefined)?.test)))
    scripts.test = (ours.scripts as Json).test;
  return `${JSON.stringify(merged, null, 2)}\n`;
}

/**
 * `openrtc init [dir]`: writes a new project. An existing package.json gets what it lacks (see
 * mergePackageJson); any other file that exists is never overwritten. Returns the exit code.
 */
export function initCommand(
  dirArg: string | undefined,
  write: (text: string) => void = (t) => process.stdout.write(t),
): number {
  const dir = resolve(dirArg ?? '.');
  const files = scaffold(dir);
  const taken = Object.keys(files).filter((f) => f !== 'package.json' && existsSync(join(dir, f)));
  if (taken.length > 0) {
    throw new CliError(`${dir} already has ${taken.join(', ')}: choose an empty or new folder`);
  }
  const pkgFile = join(dir, 'package.json');
  const updated = existsSync(pkgFile);
  const wasCommonJs = updated && /"type"\s*:\s*"commonjs"/.test(readFileSync(pkgFile, 'utf8'));
  if (updated) files['package.json'] = mergePackageJson(pkgFile, JSON.parse(files['package.json'] as string));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const created = Object.keys(files).filter((f) => !(updated && f === 'package.json'));
  const rel = relative(process.cwd(), dir);
  const cd = rel.startsWith('..') ? dir : rel;
  write(
    [
      `Created in ${dir}: ${created.join(', ')}${updated ? ' (and added to package.json)' : ''}`,
      ...(wasCommonJs
        ? ['package.json: "type" is now "module" (was "commonjs"): agent modules are ES modules']
        : []),
      '',
      'Next:',
      ...(cd ? [`  cd ${cd}`] : []),
      '  npm install',
      '  npm test                # runs agents/hello.ts in a local pool (needs nats-server installed)',
      '  npx openrtc dev         # a pool on this machine, with the web inspector',
      '  npx openrtc dispatch --agent hello --wait   # in another terminal',
      '',
    ].join('\n'),
  );
  return 0;
}
