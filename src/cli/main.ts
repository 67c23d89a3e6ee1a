import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { PoolDefaultsConfig } from '../runtime/config.ts';
import { CliError } from './errors.ts';
import { addLiveKitOptions, liveKitOptions } from './livekit-options.ts';
import { addNatsAuthOptions, clientNames, workerIds } from './nats-flags.ts';
import { addOperationsOptions, operationsOptions } from './ops-options.ts';
import { intInRange, jsonObjectString, nonNegativeInt, positiveInt, subjectToken } from './options.ts';

const program = new Command('openrtc')
  .description(
    'Run many LiveKit voice agents, and many sessions per worker process, on few machines.\n' +
      'A supervisor owns the pool; workers host sessions; they talk only over NATS.',
  )
  .option('--verbose', 'show stack traces on errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const natsOption = () =>
  new Option(
    '--nats <url>',
    'NATS server URL(s), comma-separated (default: $NATS_URL, else an embedded nats-server)',
  );
const poolOption = () =>
  new Option('--pool <name>', 'pool name: the NATS subject prefix openrtc.<pool>.*')
    .env('OPENRTC_POOL')
    .default('default')
    .argParser(subjectToken('--pool'));

/** Default port of the web inspector (`openrtc inspect --web`, `openrtc dev`). */
const INSPECT_PORT = 7070;

/**
 * V8's heap growth for worker processes: trades CPU for memory (docs/operations.md, Memory). The
 * range is V8's own: it grows the heap by 10 % to 300 % of the live data on its own.
 */
function heapGrowthOption(): Option {
  return new Option(
    '--heap-growth <percent>',
    'worker V8 heap headroom over live data before a full GC (default: V8 decides, up to 300); lower uses less memory and more CPU',
  )
    .argParser(intInRange('--heap-growth', 10, 300))
    .env('OPENRTC_HEAP_GROWTH');
}

function poolCommand(
  name: string,
  description: string,
  defaults: { workers: number; spares: number; pretty: boolean; inspect: boolean },
) {
  const cmd = program.command(name);
  cmd.addHelpText(
    'after',
    '\nSIGTERM/SIGINT drains: no new sessions; running ones finish up to --drain-timeout, then are cancelled.\n' +
      'Exit codes: 0 drained and every session finished; 4 some sessions were cut short by the drain timeout;\n' +
      '            2 a bad flag, agents folder or missing nats-server; 1 any other error.',
  );
  cmd
    .description(description)
    .argument(
      '[agents]',
      'folder of agent modules (*.ts / *.js; files starting with _ are skipped)',
      './agents',
    )
    .addOption(natsOption())
    .addOption(poolOption())
    .addOption(
      new Option('--workers <n>', 'local worker processes to start')
        .argParser(nonNegativeInt('--workers'))
        .default(defaults.workers),
    )
    .addOption(
      new Option('--spares <n>', "prewarmed spare workers: one takes a lost worker's place at once")
        .argParser(nonNegativeInt('--spares'))
        .default(defaults.spares),
    )
    .addOption(
      new Option('--capacity <n>', 'sessions per worker').argParser(positiveInt('--capacity')).default(25),
    )
    .addOption(
      new Option('--drain-timeout <ms>', 'on SIGTERM, how long sessions may finish before they are cancelled')
        .argParser(nonNegativeInt('--drain-timeout'))
        .default(30_000),
    )
    .addOption(heapGrowthOption())
    .addOption(
      new Option('--heartbeat <ms>', 'worker heartbeat interval')
        .argParser(positiveInt('--heartbeat'))
        .default(1000),
    )
    .option('--json-logs', 'JSON log lines (default for start)', !defaults.pretty)
    .addOption(
      new Option(
        '--config <file>',
        'JSON file of pool defaults for agents that leave them unset (see README)',
      ).env('OPENRTC_CONFIG'),
    )
    .option('--greeting <text>', 'default greeting said by agents that define none')
    .option('--stt <model>', "default STT model string (LiveKit inference), e.g. 'deepgram/nova-3:en'")
    .option('--llm <model>', "default LLM model string (LiveKit inference), e.g. 'openai/gpt-4.1-mini'")
    .option('--tts <model>', "default TTS model string (LiveKit inference), e.g. 'cartesia/sonic-3'")
    .option('--metrics-jsonl <file>', "write OpenRTC's JSONL metrics stream (snapshots and session events)")
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus metrics on :PORT/metrics').argParser(
        nonNegativeInt('--metrics-port'),
      ),
    )
    .addOption(
      new Option(
        '--inspect [port]',
        `serve the web inspector on 127.0.0.1 (default port ${INSPECT_PORT})${defaults.inspect ? '; on by default' : ''}`,
      )
        .argParser(nonNegativeInt('--inspect'))
        .default(defaults.inspect ? INSPECT_PORT : undefined),
    )
    .addOption(new Option('--no-inspect', 'no web inspector'));
  if (name === 'dev') {
    cmd.addOption(
      new Option('--no-watch', 'do not reload the workers when a file in the agents folder changes'),
    );
  }
  cmd.addHelpText(
    'after',
    name === 'dev'
      ? '\nA change in the agents folder rolls out a new generation of workers (as `openrtc rollout`):\n' +
          'new sessions get the new code, running ones finish on theirs. SIGHUP does the same.'
      : '\nSIGHUP (or `openrtc rollout`) rolls out a new generation of local workers with the code on disk.',
  );
  // Credentials and the LiveKit job source come after the pool's own options in --help.
  addNatsAuthOptions(cmd);
  addLiveKitOptions(cmd);
  addOperationsOptions(cmd);
  return cmd.action(async (agents: string, opts) => {
    const { runPool } = await import('../runtime/pool.ts');
    const { natsAuthEnv } = await import('../runtime/nats/auth.ts');
    const { cliNatsAuth } = await import('./nats-auth.ts');
    const livekit = liveKitOptions(opts);
    // `openrtc dev` records its NATS URL and pool for this user: status, dispatch and inspect find it.
    const record = name === 'dev' ? await import('./dev-record.ts') : undefined;
    const hooks = record && {
      running: (pool: { url: string; pool: string }) =>
        record.writeDevRecord({
          url: pool.url,
          pool: pool.pool,
          pid: process.pid,
          agents: resolve(agents),
          startedAt: new Date().toISOString(),
        }),
      stopped: () => record.removeDevRecord(process.pid),
    };
    exit(
      await runPool(
        {
          agentsDir: agents,
          nats: await resolveNats(opts.nats),
          pool: opts.pool,
          workers: opts.workers,
          spares: opts.spares,
          capacity: opts.capacity,
          drainTimeoutMs: opts.drainTimeout,
          heartbeatMs: opts.heartbeat,
          ...(opts.heapGrowth !== undefined ? { workerHeapGrowth: opts.heapGrowth } : {}),
          pretty: !opts.jsonLogs,
          natsAuth: cliNatsAuth(opts),
          defaults: await poolDefaults(opts),
          ...(await operationsOptions(opts).then((o) => (o ? { operations: o } : {}))),
          // Local workers sign in with the supervisor's credentials, through the environment (not argv).
          workerEnv: natsAuthEnv(opts),
          ...(opts.metricsJsonl ? { metricsJsonl: opts.metricsJsonl } : {}),
          ...(opts.metricsPort !== undefined ? { metricsPort: opts.metricsPort } : {}),
          ...(opts.inspect === true || typeof opts.inspect === 'number'
            ? { inspectPort: opts.inspect === true ? INSPECT_PORT : opts.inspect }
            : {}),
          ...(livekit ? { livekit } : {}),
          ...(name === 'dev' && opts.watch !== false ? { watch: true } : {}),
        },
        hooks,
      ),
    );
  });
}

poolCommand('dev', 'run a supervisor and local workers, with human-friendly logs', {
  workers: availableParallelism(),
  spares: 1,
  pretty: true,
  inspect: true,
});
poolCommand('start', 'run a supervisor and local workers, with JSON logs (production)', {
  workers: availableParallelism(),
  spares: 1,
  pretty: false,
  inspect: false,
});
poolCommand('supervisor', 'run a supervisor only; workers join from any host with `openrtc worker`', {
  workers: 0,
  spares: 0,
  pretty: false,
  inspect: false,
});

const workerCmd = program
  .command('worker')
  .description('join a pool as a worker: connect to NATS, say hello, prewarm Silero once, host sessions')
  .addOption(
    new Option('--nats <url>', 'NATS server URL(s), comma-separated').env('NATS_URL').makeOptionMandatory(),
  )
  .addOption(poolOption())
  .addOption(new Option('--id <id>', 'worker id (default: <host>-<pid>)').argParser(subjectToken('--id')))
  .addOption(
    new Option('--capacity <n>', 'sessions this worker hosts')
      .argParser(positiveInt('--capacity'))
      .default(25),
  )
  .addOption(
    new Option(
      '--drain-timeout <ms>',
      'on SIGTERM or drain, how long sessions may finish before they are cancelled',
    )
      .argParser(nonNegativeInt('--drain-timeout'))
      .default(30_000),
  )
  .addOption(heapGrowthOption())
  .addOption(
    new Option('--parent-pid <pid>', 'exit when this process is gone (set by the supervisor)')
      .argParser(positiveInt('--parent-pid'))
      .hideHelp(),
  )
  .option('--json-logs', 'JSON log lines', false);
addNatsAuthOptions(workerCmd).action(async (opts) => {
  const { runWorker } = await import('../runtime/worker/run.ts');
  const { cliNatsAuth } = await import('./nats-auth.ts');
  exit(
    await runWorker({
      nats: opts.nats,
      pool: opts.pool,
      id: opts.id,
      capacity: opts.capacity,
      drainTimeoutMs: opts.drainTimeout,
      parentPid: opts.parentPid,
      ...(opts.heapGrowth !== undefined ? { heapGrowthPercent: opts.heapGrowth } : {}),
      pretty: !opts.jsonLogs,
      natsAuth: cliNatsAuth(opts),
    }),
  );
});

const dispatchCmd = program
  .command('dispatch')
  .description('ask the pool for a session; with --wait, follow it until it ends')
  .addOption(natsOption())
  .addOption(poolOption())
  .option('--agent <name>', 'agent to run (otherwise routing decides from --room and --metadata)')
  .option('--room <room>', 'room name; a <agent>- prefix routes to that agent')
  .option('--job-id <id>', 'job id (idempotency key; default: random)')
  .addOption(
    new Option('--metadata <json>', 'job metadata (JSON object)').argParser(jsonObjectString('--metadata')),
  )
  .option('--audio <file>', 'WAV file the session hears (local transport)')
  .option('--wait', 'print every transition until the session ends; exit 0 on closed, 1 otherwise')
  .option('--json', 'print JSON lines');
addNatsAuthOptions(dispatchCmd).action(async (opts, cmd: Command) => {
  const { dispatchCommand } = await import('./dispatch.ts');
  process.exitCode = await dispatchCommand({ ...opts, ...(await clientTarget(opts, cmd)) });
});

const statusCmd = program
  .command('status')
  .description('show the workers and sessions of a pool')
  .addOption(natsOption())
  .addOption(poolOption())
  .option('--json', 'print the status reply as JSON');
addNatsAuthOptions(statusCmd).action(async (opts, cmd: Command) => {
  const { statusCommand } = await import('./status.ts');
  process.exitCode = await statusCommand({ ...opts, ...(await clientTarget(opts, cmd)) });
});

const rolloutCmd = program
  .command('rollout')
  .description('roll out new agent code: a new generation of workers, then the old one drains')
  .addOption(natsOption())
  .addOption(poolOption())
  .addOption(
    new Option('--timeout <ms>', 'how long the new generation may take to be ready')
      .argParser(positiveInt('--timeout'))
      .default(120_000),
  )
  .option('--json', 'print the rollout (or its error) as JSON');
rolloutCmd.addHelpText(
  'after',
  `
Asks the leading supervisor of the pool (over NATS, like \`status\`) for a rolling upgrade:
  1. it starts a new generation of its local workers (as many as --workers and --spares), which
     import the agent modules as they are on disk now and prewarm;
  2. it waits until every one of them is ready; until then the old generation takes every session;
  3. new sessions then go to the new generation only, and the old generation drains: it takes no
     new sessions, its running sessions finish on the code they started with, then it stops.
If the new generation fails to import or prewarm (or is not ready within --timeout), it is stopped
and the old generation serves on; the error names the agent file and the phase (import, prewarm).
Workers that joined from other hosts (\`openrtc worker\`) with a newer code version are a newer
generation too; with no local workers, a rollout drains every generation older than the newest ready one.
SIGHUP to the \`openrtc start|dev|supervisor\` process does the same; \`openrtc dev\` does it on every
change in the agents folder. New agent files (or removed ones) need a restart: the registry is
read at start. See docs/operations.md.

Exit codes: 0 the new generation serves; 1 it failed (the old one serves on) or no supervisor answered.`,
);
addNatsAuthOptions(rolloutCmd).action(async (opts, cmd: Command) => {
  const { rolloutCommand } = await import('./rollout.ts');
  process.exitCode = await rolloutCommand({ ...opts, ...(await clientTarget(opts, cmd)) });
});

addNatsAuthOptions(program.command('inspect'))
  .description('watch a pool live: workers, sessions and every state transition (terminal, NDJSON or web)')
  .addOption(natsOption())
  .addOption(poolOption())
  .option('--once', 'print one snapshot and exit')
  .option('--json', 'stream inspection events as NDJSON (with --once or --session: that, as JSON)')
  .option('--session <id>', "print a session's transitions with timings, even after it ended")
  .option('--agent <name>', 'only sessions of this agent')
  .option('--worker <id>', 'only this worker and its sessions')
  .option('--web', 'serve the web inspector (statecharts, timelines) instead of the terminal view')
  .addOption(
    new Option('--port <port>', 'port of the web inspector (0: any free port)')
      .argParser(nonNegativeInt('--port'))
      .default(INSPECT_PORT),
  )
  .action(async (opts, cmd: Command) => {
    const { inspectCommand } = await import('./inspect.ts');
    process.exitCode = await inspectCommand({ ...opts, ...(await clientTarget(opts, cmd)) });
  });

program
  .command('nats-config')
  .description(
    'write a nats-server config with a least-privilege user per role of a pool, and print the credentials',
  )
  .addOption(poolOption())
  .addOption(
    new Option('--workers <ids>', 'worker ids (edge-1,edge-2), or a count N for w1..wN')
      .argParser(workerIds)
      .makeOptionMandatory(),
  )
  .addOption(
    new Option('--clients <names>', 'client names, comma-separated')
      .argParser(clientNames)
      .default(['app'], 'app'),
  )
  .option('--out <file>', 'write the config here (mode 600) instead of stdout')
  .option('--force', 'replace an existing --out file')
  .option('--json', 'print the credentials as JSON')
  .action(async (opts) => {
    const { natsConfigCommand } = await import('./nats-config.ts');
    process.exitCode = natsConfigCommand(opts);
  });

program
  .command('init')
  .description('create a project: package.json, tsconfig.json, an agent, and a test that runs it in a pool')
  .argument('[dir]', 'folder to create it in (default: the current folder)')
  .action(async (dir: string | undefined) => {
    const { initCommand } = await import('./init.ts');
    process.exitCode = initCommand(dir);
  });

program
  .command('machines')
  .description('print the statecharts of the session, worker and supervisor machines')
  .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'json']).default('mermaid'))
  .option('--machine <name>', 'only this machine (session, worker, supervisor)')
  .action(async (opts) => {
    const { machinesCommand } = await import('./machines.ts');
    process.exitCode = await machinesCommand(opts);
  });

/** Pool defaults from `--config`, then the flags on top. */
async function poolDefaults(opts: {
  config?: string;
  greeting?: string;
  stt?: string;
  llm?: string;
  tts?: string;
}): Promise<PoolDefaultsConfig | undefined> {
  const { loadPoolConfig } = await import('../runtime/config.ts');
  const fromFile = opts.config ? (await loadPoolConfig(opts.config)).defaults : undefined;
  const providers = {
    ...fromFile?.providers,
    ...(opts.stt ? { stt: opts.stt } : {}),
    ...(opts.llm ? { llm: opts.llm } : {}),
    ...(opts.tts ? { tts: opts.tts } : {}),
  };
  const greeting = opts.greeting ? { say: opts.greeting } : fromFile?.greeting;
  if (!fromFile && !greeting && Object.keys(providers).length === 0) return undefined;
  return {
    ...fromFile,
    ...(greeting ? { greeting } : {}),
    ...(Object.keys(providers).length ? { providers } : {}),
  };
}

/** Long-running commands end the process: agents-js and onnxruntime may hold handles open. */
function exit(code: number): never {
  process.exit(code);
}

async function resolveNats(flag: string | undefined): Promise<string | undefined> {
  const { natsUrl } = await import('./options.ts');
  return natsUrl(flag);
}

/**
 * The pool a client command talks to: --nats, else NATS_URL, else the `openrtc dev` this user runs
 * (its record; then its pool too, unless --pool or OPENRTC_POOL names one).
 */
async function clientTarget(opts: { nats?: string; pool: string }, cmd: Command) {
  const url = await resolveNats(opts.nats);
  if (url) return { nats: url, pool: opts.pool };
  const { findDevPool } = await import('./dev-record.ts');
  const dev = findDevPool();
  if (!dev.found) {
    const why =
      dev.why === 'stale'
        ? `the openrtc dev recorded in ${dev.path} (pid ${dev.record?.pid}) is gone`
        : `no openrtc dev is running (nothing in ${dev.path})`;
    throw new CliError(`no NATS server given: pass --nats nats://host:port or set NATS_URL; ${why}`);
  }
  const pool = cmd.getOptionValueSource('pool') === 'default' ? dev.record.pool : opts.pool;
  process.stderr.write(
    `openrtc: using openrtc dev (pid ${dev.record.pid}): pool '${pool}' at ${dev.record.url}\n`,
  );
  return { nats: dev.record.url, pool };
}

async function main(argv: string[]): Promise<void> {
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (and help for --help).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    // Errors about the user's input (a flag, a missing binary, an agents folder) exit 2 without a stack.
    const name = (err as Error)?.name ?? '';
    const userError = err instanceof CliError || USER_ERRORS.has(name);
    process.stderr.write(`openrtc: ${(err as Error)?.message ?? String(err)}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!userError) process.stderr.write('(run with --verbose for the stack trace)\n');
    process.exitCode = err instanceof CliError ? err.exitCode : userError ? 2 : 1;
  }
}

const USER_ERRORS = new Set([
  'NatsServerNotFoundError',
  'NatsConnectError',
  'AgentDiscoveryError',
  'NatsAuthError',
  'ConfigError',
]);

await main(process.argv);
