import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Runs the Silero VAD model (the ONNX file that ships in @livekit/agents-plugin-silero) for many
 * streams at once: every stream that has a window pending when the batcher flushes goes into ONE
 * `session.run` as one row of input [B, context + window] and state [2, B, 128]. The model keeps
 * each row's recurrent state apart, so a row's probability is the one it would get alone.
 *
 * onnxruntime-node's `session.run` returns a promise but computes on the calling thread (its
 * binding is synchronous; the promise only defers the call with setImmediate). So by default the
 * model runs in a worker thread and the event loop only packs rows and unpacks results.
 */

/** The Silero model's recurrent state per row: [2, 1, 128]. */
const STATE_SIZE = 2 * 128;

export type SileroSampleRate = 8000 | 16000;

/** Where the model runs: a worker thread (default; never blocks the event loop) or this thread. */
export type SileroThread = 'worker' | 'main';

export interface SileroBatcherOptions {
  sampleRate: SileroSampleRate;
  /** Ask onnxruntime for its CPU provider only (as the plugin's `forceCPU`). */
  forceCPU: boolean;
  thread: SileroThread;
  /** The most rows one `session.run` takes; more pending windows wait for the next run. */
  maxBatch: number;
}

export interface SileroBatcherStats {
  /** `session.run` calls made. */
  runs: number;
  /** Windows inferred, over all runs. */
  windows: number;
  /** The largest batch so far. */
  maxBatch: number;
  /** Time spent inside `session.run` (as seen by the caller), in ms. */
  runMs: number;
}

interface RunResult {
  output: Float32Array;
  stateN: Float32Array;
}

/** One way to execute a batch: [rows, width] input and [2, rows, 128] state in, [rows] and [2, rows, 128] out. */
interface SileroRunner {
  run(input: Float32Array, state: Float32Array, rows: number): Promise<RunResult>;
  close(): Promise<void>;
}

/** Where the model runs and how many windows one run takes, unless the options say otherwise. */
export const SILERO_BATCHER_DEFAULTS = { thread: 'worker', maxBatch: 128 } as const satisfies Pick<
  SileroBatcherOptions,
  'thread' | 'maxBatch'
>;

/** Files the batcher needs from the installed packages. */
export interface SileroFiles {
  /** silero_vad.onnx, as shipped in @livekit/agents-plugin-silero. */
  model: string;
  /** The onnxruntime-node the plugin itself loads (it is the plugin's dependency, not ours). */
  onnxruntime: string;
}

/** Resolves the model file and onnxruntime-node from the installed Silero plugin. */
export function sileroFiles(): SileroFiles {
  const entry = createRequire(import.meta.url).resolve('@livekit/agents-plugin-silero');
  return {
    model: join(dirname(entry), 'silero_vad.onnx'),
    onnxruntime: createRequire(entry).resolve('onnxruntime-node'),
  };
}

function sessionOptions(forceCPU: boolean) {
  // The plugin's own settings: one thread, sequential execution.
  return {
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    executionMode: 'sequential',
    ...(forceCPU ? { executionProviders: [{ name: 'cpu' }] } : {}),
  };
}

/** The parts of onnxruntime-node's API used here (typed locally: it is not our declared dependency). */
interface Ort {
  InferenceSession: {
    create(path: string, options: object): Promise<OrtSession>;
  };
  Tensor: new (type: string, data: Float32Array | BigInt64Array, dims?: number[]) => unknown;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
  release?(): Promise<void>;
}

/** Runs the model on this thread: each run blocks the event loop for its duration. */
class MainThreadRunner implements SileroRunner {
  private constructor(
    private readonly ort: Ort,
    private readonly session: OrtSession,
    private readonly sr: unknown,
    private readonly width: number,
  ) {}

  static async start(files: SileroFiles, opts: SileroBatcherOptions, width: number): Promise<SileroRunner> {
    const ort = createRequire(import.meta.url)(files.onnxruntime) as Ort;
    const session = await ort.InferenceSession.create(files.model, sessionOptions(opts.forceCPU));
    const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(opts.sampleRate)]));
    return new MainThreadRunner(ort, session, sr, width);
  }

  async run(input: Float32Array, state: Float32Array, rows: number): Promise<RunResult> {
    const out = await this.session.run({
      input: new this.ort.Tensor('float32', input, [rows, this.width]),
      state: new this.ort.Tensor('float32', state, [2, rows, 128]),
      sr: this.sr,
    });
    return { output: out.output?.data as Float32Array, stateN: out.stateN?.data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release?.();
  }
}

/**
 * The worker thread's program (CommonJS, evaluated: no file to ship or transpile). It loads the
 * same onnxruntime-node and model as the plugin, then answers one batch per message.
 *
 * `control` is shared with the main thread: [BUSY] is 1 while onnxruntime works (loading the model
 * or running a batch), [STOP] is set by the main thread when the process exits. A thread stopped
 * inside onnxruntime's native code aborts the whole process ("terminate called after throwing an
 * instance of 'Napi::Error'", exit code 134), so the main thread's 'exit' handler waits for BUSY
 * to drop, and the thread starts no work once STOP is set. BUSY is raised before STOP is checked,
 * so one of the two sides always sees the other.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.onnxruntime);
const control = new Int32Array(workerData.control);
const BUSY = 0, STOP = 1;
const message = (e) => String((e && e.stack) || e);
const begin = () => {
  Atomics.store(control, BUSY, 1);
  if (Atomics.load(control, STOP) === 0) return true;
  end();
  return false;
};
const end = () => {
  Atomics.store(control, BUSY, 0);
  Atomics.notify(control, BUSY);
};
if (begin()) {
  ort.InferenceSession.create(workerData.model, workerData.sessionOptions).then((session) => {
    end();
    const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(workerData.sampleRate)]));
    parentPort.on('message', async (m) => {
      if (!begin()) return; // the process is exiting
      try {
        const out = await session.run({
          input: new ort.Tensor('float32', m.input, [m.rows, workerData.width]),
          state: new ort.Tensor('float32', m.state, [2, m.rows, 128]),
          sr,
        });
        const output = Float32Array.from(out.output.data);
        const stateN = Float32Array.from(out.stateN.data);
        parentPort.postMessage({ id: m.id, output, stateN }, [output.buffer, stateN.buffer]);
      } catch (e) {
        parentPort.postMessage({ id: m.id, error: message(e) });
      } finally {
        end();
      }
    });
    parentPort.postMessage({ ready: true });
  }, (e) => {
    end();
    parentPort.postMessage({ ready: false, error: message(e) });
  });
}
`;
const BUSY = 0;
const STOP = 1;
/** How long the process's exit may wait for a batch in the worker thread to finish. */
const EXIT_WAIT_MS = 2000;

type WorkerReply =
  | { ready: true }
  | { ready: false; error: string }
  | { id: number; output: Float32Array; stateN: Float32Array }
  | { id: number; error: string };

/**
 * Runs the model in a worker thread. The thread is unref'd while idle (it never keeps the process
 * alive by itself) and ref'd while a batch is out. If the thread dies, the batches it held fail
 * and the next batch starts a new thread; the streams' states live on the main thread.
 */
class WorkerRunner implements SileroRunner {
  private worker: Promise<Worker> | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(r: RunResult): void; reject(e: Error): void }>();
  private closed = false;
  /** Shared with the thread: [BUSY, STOP] (see WORKER_SOURCE). */
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private readonly onExit = () => this.stopThread();

  private constructor(
    private readonly files: SileroFiles,
    private readonly opts: SileroBatcherOptions,
    private readonly width: number,
  ) {
    process.on('exit', this.onExit);
  }

  /** Lets the thread finish what it is doing in onnxruntime and start nothing more (synchronous). */
  private stopThread(): void {
    Atomics.store(this.control, STOP, 1);
    const deadline = performance.now() + EXIT_WAIT_MS;
    while (Atomics.load(this.control, BUSY) === 1) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(this.control, BUSY, 1, left);
    }
  }

  static async start(files: SileroFiles, opts: SileroBatcherOptions, width: number): Promise<SileroRunner> {
    const runner = new WorkerRunner(files, opts, width);
    await runner.thread(); // a model that cannot load fails here, at load time
    return runner;
  }

  private thread(): Promise<Worker> {
    if (this.worker) return this.worker;
    Atomics.store(this.control, BUSY, 0); // a thread that died mid-run left it raised
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        model: this.files.model,
        onnxruntime: this.files.onnxruntime,
        sessionOptions: sessionOptions(this.opts.forceCPU),
        sampleRate: this.opts.sampleRate,
        width: this.width,
        control: this.control.buffer,
      },
    });
    const started = new Promise<Worker>((resolve, reject) => {
      const lost = (err: Error) => {
        if (this.worker === started) this.worker = undefined;
        reject(err);
        for (const [, w] of this.waiting) w.reject(err);
        this.waiting.clear();
      };
      worker.on('message', (m: WorkerReply) => {
        if ('ready' in m) {
          if (m.ready) {
            worker.unref();
            resolve(worker);
          } else {
            lost(new Error(`Silero worker thread failed to load the model: ${m.error}`));
            void worker.terminate();
          }
          return;
        }
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (this.waiting.size === 0) worker.unref();
        if ('error' in m) w.reject(new Error(`Silero inference failed: ${m.error}`));
        else w.resolve({ output: m.output, stateN: m.stateN });
      });
      worker.on('error', (err) => lost(err));
      worker.on('exit', (code) => {
        if (!this.closed) lost(new Error(`Silero worker thread exited (code ${code})`));
      });
    });
    this.worker = started;
    return started;
  }

  async run(input: Float32Array, state: Float32Array, rows: number): Promise<RunResult> {
    if (this.closed) throw new Error('the batched Silero VAD is closed');
    const worker = await this.thread();
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref(); // a batch is out: keep the process alive until it returns
      worker.postMessage({ id, rows, input, state }, [
        input.buffer as ArrayBuffer,
        state.buffer as ArrayBuffer,
      ]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    process.off('exit', this.onExit);
    const worker = await this.worker?.catch(() => undefined);
    this.worker = undefined;
    // Not while onnxruntime works in the thread: stopping it there aborts the process.
    Atomics.store(this.control, STOP, 1);
    const deadline = performance.now() + EXIT_WAIT_MS;
    while (Atomics.load(this.control, BUSY) === 1 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1));
    }
    await worker?.terminate();
    const err = new Error('the batched Silero VAD is closed');
    for (const [, w] of this.waiting) w.reject(err);
    this.waiting.clear();
  }
}

interface Pending {
  row: SileroRow;
  window: Float32Array;
  resolve(p: number): void;
  reject(err: Error): void;
}

/** One stream's place in the batch: its recurrent state and its last `context` samples. */
export class SileroRow {
  readonly state = new Float32Array(STATE_SIZE);
  readonly context: Float32Array;
  busy = false;

  constructor(private readonly batcher: SileroBatcher) {
    this.context = new Float32Array(batcher.contextSize);
  }

  /** The speech probability of the next window (`windowSize` samples scaled to [-1, 1]). */
  infer(window: Float32Array): Promise<number> {
    return this.batcher.enqueue(this, window);
  }

  /** Forget the audio so far (as the plugin's model reset). */
  reset(): void {
    this.state.fill(0);
    this.context.fill(0);
  }
}

export class SileroBatcher {
  readonly windowSize: number;
  readonly contextSize: number;
  readonly sampleRate: SileroSampleRate;
  private readonly width: number;
  private pending: Pending[] = [];
  private running = false;
  private scheduled = false;
  private readonly counters: SileroBatcherStats = { runs: 0, windows: 0, maxBatch: 0, runMs: 0 };

  private constructor(
    private readonly runner: SileroRunner,
    private readonly maxBatch: number,
    sampleRate: SileroSampleRate,
  ) {
    this.sampleRate = sampleRate;
    this.windowSize = sampleRate === 8000 ? 256 : 512;
    this.contextSize = sampleRate === 8000 ? 32 : 64;
    this.width = this.windowSize + this.contextSize;
  }

  static async load(opts: SileroBatcherOptions, files: SileroFiles = sileroFiles()): Promise<SileroBatcher> {
    if (opts.sampleRate !== 8000 && opts.sampleRate !== 16000) {
      throw new Error(`Silero runs at 8000 or 16000 Hz, not ${opts.sampleRate}`);
    }
    const width = (opts.sampleRate === 8000 ? 256 + 32 : 512 + 64) as number;
    const runner =
      opts.thread === 'main'
        ? await MainThreadRunner.start(files, opts, width)
        : await WorkerRunner.start(files, opts, width);
    return new SileroBatcher(runner, Math.max(1, Math.trunc(opts.maxBatch)), opts.sampleRate);
  }

  /** A row for a new stream. The batcher holds a row only while it has a window pending. */
  row(): SileroRow {
    return new SileroRow(this);
  }

  stats(): SileroBatcherStats {
    return { ...this.counters };
  }

  enqueue(row: SileroRow, window: Float32Array): Promise<number> {
    if (window.length !== this.windowSize) {
      return Promise.reject(new Error(`a Silero window is ${this.windowSize} samples, not ${window.length}`));
    }
    if (row.busy) return Promise.reject(new Error('this stream already has a window pending'));
    row.busy = true;
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ row, window, resolve, reject });
      this.schedule();
    });
  }

  async close(): Promise<void> {
    const err = new Error('the batched Silero VAD is closed');
    for (const p of this.pending.splice(0)) {
      p.row.busy = false;
      p.reject(err);
    }
    await this.runner.close();
  }

  /**
   * Flush on the next turn of the event loop, so every stream that gets its window ready in this
   * turn joins the batch; while a batch is out, windows queue for the next one.
   */
  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.pending.length === 0) return;
    this.running = true;
    const batch = this.pending.splice(0, this.maxBatch);
    const rows = batch.length;
    const { width, contextSize } = this;
    const input = new Float32Array(rows * width);
    const state = new Float32Array(rows * STATE_SIZE);
    for (let b = 0; b < rows; b++) {
      const { row, window } = batch[b] as Pending;
      input.set(row.context, b * width);
      input.set(window, b * width + contextSize);
      // state is [2, rows, 128]: layer l of row b sits at (l * rows + b) * 128.
      state.set(row.state.subarray(0, 128), b * 128);
      state.set(row.state.subarray(128), (rows + b) * 128);
    }
    const started = performance.now();
    try {
      const { output, stateN } = await this.runner.run(input, state, rows);
      this.counters.runs += 1;
      this.counters.windows += rows;
      this.counters.maxBatch = Math.max(this.counters.maxBatch, rows);
      this.counters.runMs += performance.now() - started;
      for (let b = 0; b < rows; b++) {
        const { row, window, resolve } = batch[b] as Pending;
        row.state.set(stateN.subarray(b * 128, (b + 1) * 128), 0);
        row.state.set(stateN.subarray((rows + b) * 128, (rows + b + 1) * 128), 128);
        row.context.set(window.subarray(window.length - contextSize));
        row.busy = false;
        resolve(output[b] as number);
      }
    } catch (err) {
      for (const { row, reject } of batch) {
        row.busy = false;
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    } finally {
      this.running = false;
      if (this.pending.length > 0) this.schedule();
    }
  }
}
