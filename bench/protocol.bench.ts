/**
 * Codec cost of each hot message type (session.state, heartbeat, inspect, session.speech, ack,
 * dispatch: real messages captured from a live pool, bench/protocol/messages.json, see
 * bench/protocol/capture.ts), each next to bare JSON.parse of the same bytes; `max_ratio` is the
 * worst of them. Also on a ~330-byte session.state event (a session failing its connect phase, with the
 * failure message the session machine writes) and on the shorter event of an ordinary transition,
 * each next to bare JSON.parse of the same bytes in the same run. Prints exactly one JSON line on
 * stdout; a full run with `--write-docs` also writes docs/benchmarks/protocol.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  decode,
  ErrorCode,
  encode,
  envelope,
  MESSAGE_SCHEMAS,
  type Message,
  SessionFailure,
  SessionPhase,
  SessionState,
  subjects,
} from '../src/protocol/index.ts';
import type { Captured } from './protocol/capture.ts';

const quick = process.argv.includes('--quick');
const BATCHES = quick ? 5 : 21;
const TARGET_BATCH_MS = quick ? 20 : 100;

const subject = subjects('bench').events('worker-01');
const stamp = { id: '0b6f3c1e-8d1f-4c2a-9b7e-2f5d8a1c4e60', ts: 1_764_400_000_000 };
const ids = { session: 'sess-3f9a2c71-5b0e-4d1a', worker: 'worker-01', epoch: 'e-9c41d2f07a' };
const message: Message = envelope(
  'session.state',
  'worker-01',
  {
    ...ids,
    state: 'failed',
    seq: 3,
    failure: {
      phase: 'connect',
      code: 'connect_timeout',
      message: 'connect attempt 3 of 3 timed out after 10000 ms',
    },
  },
  stamp,
);
const bytes = encode(message);
const text = new TextDecoder().decode(bytes);
const failureText = JSON.stringify((JSON.parse(text) as { failure: unknown }).failure);
const utf8 = new TextDecoder();
const invalidBytes = new TextEncoder().encode(text.replace('"state":"failed"', '"state":"dancing"'));
// Most transitions (prewarming, connecting, greeting, active, closing, closed) carry no failure.
const plainBytes = encode(
  envelope('session.state', 'worker-01', { ...ids, state: 'connecting', seq: 2 }, stamp),
);
const plainText = new TextDecoder().decode(plainBytes);
// Compiled as decode compiles it (src/protocol/codec.ts), so the breakdown measures decode's own check.
const schema = z.compile(MESSAGE_SCHEMAS['session.state']);
// The same object shape without limits (lengths, integer, sign, pattern): what zod's checks cost.
const bare = z.compile(
  z.object({
    v: z.number(),
    id: z.string(),
    ts: z.number(),
    from: z.string(),
    type: z.literal('session.state'),
    session: z.string(),
    worker: z.string(),
    epoch: z.string(),
    state: SessionState,
    seq: z.number(),
    failure: z.object({ phase: SessionPhase, code: ErrorCode, message: z.string() }).optional(),
  }),
);

const compiledFailure = z.compile(SessionFailure);

/** One real message of each hot type, as a live pool sent it. */
const hot = (
  JSON.parse(
    readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'protocol', 'messages.json'), 'utf8'),
  ) as Captured[]
).map((c) => ({ ...c, bytes: new TextEncoder().encode(c.text) }));

// Sinks keep the optimiser from dropping the measured work.
let sink = 0;
const hotCases = Object.fromEntries(
  hot.flatMap((c) => [
    [
      `hot_decode:${c.type}`,
      () => {
        sink += decode(c.bytes, c.subject).ok ? 1 : 0;
      },
    ],
    [
      `hot_json:${c.type}`,
      () => {
        sink += (JSON.parse(c.text) as { ts: number }).ts;
      },
    ],
  ]),
) as Record<string, () => void>;
const cases = {
  ...hotCases,
  encode: () => {
    sink += encode(message).byteLength;
  },
  decode: () => {
    sink += decode(bytes, subject).ok ? 1 : 0;
  },
  decode_invalid: () => {
    sink += decode(invalidBytes, subject).ok ? 1 : 0;
  },
  json_parse: () => {
    sink += (JSON.parse(text) as { seq: number }).seq;
  },
  // Parts of decode, for the breakdown in docs/benchmarks/protocol.md. zod runs on a freshly parsed
  // object each time, as in decode: re-checking one object is faster and would flatter it.
  utf8_decode: () => {
    sink += utf8.decode(bytes).length;
  },
  parse_schema: () => {
    sink += schema.safeParse(JSON.parse(text)).success ? 1 : 0;
  },
  parse_bare: () => {
    sink += bare.safeParse(JSON.parse(text)).success ? 1 : 0;
  },
  parse_failure: () => {
    sink += compiledFailure.safeParse(JSON.parse(failureText)).success ? 1 : 0;
  },
  json_parse_failure: () => {
    sink += (JSON.parse(failureText) as { code: string }).code.length;
  },
  decode_plain: () => {
    sink += decode(plainBytes, subject).ok ? 1 : 0;
  },
  json_parse_plain: () => {
    sink += (JSON.parse(plainText) as { seq: number }).seq;
  },
} as const;
type Case = keyof typeof cases;

for (const c of hot) {
  const r = decode(c.bytes, c.subject);
  if (!r.ok) throw new Error(`captured ${c.type} does not decode: ${JSON.stringify(r)}`);
}
if (!decode(bytes, subject).ok || !decode(plainBytes, subject).ok || decode(invalidBytes, subject).ok) {
  throw new Error('bench inputs are wrong');
}

/** Nanoseconds per call over one batch of `n` calls. */
function batch(fn: () => void, n: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

// Warm up until the JIT has settled, then size each batch to roughly TARGET_BATCH_MS.
const WARMUP_MS = quick ? 50 : 300;
const perBatch = {} as Record<Case, number>;
for (const [name, fn] of Object.entries(cases) as [Case, () => void][]) {
  const until = performance.now() + WARMUP_MS;
  let ns = 0;
  while (performance.now() < until) ns = batch(fn, 1000);
  perBatch[name] = Math.max(1000, Math.round((TARGET_BATCH_MS * 1e6) / ns));
}

// Interleave the cases batch by batch so drift and noise from other processes hit all of them.
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as number[]])) as Record<
  Case,
  number[]
>;
for (let b = 0; b < BATCHES; b++) {
  for (const [name, fn] of Object.entries(cases) as [Case, () => void][]) {
    samples[name].push(batch(fn, perBatch[name]));
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, round(median(v))])) as Record<
  Case,
  number
>;
const hardware = {
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  cores: availableParallelism(),
  ram_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
};
const nsOf = (k: string) => (ns as Record<string, number>)[k] as number;
const hotRatios = Object.fromEntries(
  hot.map((c) => [
    c.type,
    Math.round((nsOf(`hot_decode:${c.type}`) / nsOf(`hot_json:${c.type}`)) * 100) / 100,
  ]),
) as Record<string, number>;
const result = {
  bench: 'protocol',
  max_ratio: Math.max(...Object.values(hotRatios)),
  ratios: hotRatios,
  hot: Object.fromEntries(
    hot.map((c) => [
      c.type,
      {
        bytes: c.bytes.byteLength,
        decode_ns: nsOf(`hot_decode:${c.type}`),
        json_parse_ns: nsOf(`hot_json:${c.type}`),
      },
    ]),
  ),
  target_ratio: 3,
  encode_ns: ns.encode,
  decode_ns: ns.decode,
  decode_invalid_ns: ns.decode_invalid,
  json_parse_ns: ns.json_parse,
  ratio_decode_to_json_parse: Math.round((ns.decode / ns.json_parse) * 100) / 100,
  bytes: bytes.byteLength,
  plain_decode_ns: ns.decode_plain,
  plain_json_parse_ns: ns.json_parse_plain,
  plain_ratio: Math.round((ns.decode_plain / ns.json_parse_plain) * 100) / 100,
  plain_bytes: plainBytes.byteLength,
  hardware,
};
if (sink === 0.5) console.error('unreachable');
process.stdout.write(`${JSON.stringify(result)}\n`);

if (!quick && process.argv.includes('--write-docs')) {
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks', 'protocol.md');
  writeFileSync(out, table(result, perBatch));
}

function table(r: typeof result, sizes: Record<Case, number>): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const zod = Math.max(0, round(ns.parse_schema - r.json_parse_ns));
  const zodBare = Math.max(0, round(ns.parse_bare - r.json_parse_ns));
  const zodFailure = Math.max(0, round(ns.parse_failure - ns.json_parse_failure));
  const rest = Math.max(0, round(r.decode_ns - ns.utf8_decode - r.json_parse_ns - zod));
  const results = mdTable(
    ['operation', 'ns per message (median)', 'calls per batch'],
    [
      ['`encode` (plain-data check, schema check, JSON.stringify, UTF-8)', n(r.encode_ns), n(sizes.encode)],
      [
        '`decode` of a valid message (UTF-8, JSON.parse, subject and version checks, schema)',
        n(r.decode_ns),
        n(sizes.decode),
      ],
      [
        '`decode` of an invalid message (same, plus building the ProtocolError)',
        n(r.decode_invalid_ns),
        n(sizes.decode_invalid),
      ],
      ['bare `JSON.parse` of the same text', n(r.json_parse_ns), n(sizes.json_parse)],
    ],
  );
  const breakdown = mdTable(
    ['part of decode', 'ns (median)'],
    [
      ['UTF-8 bytes to string (`TextDecoder`)', n(ns.utf8_decode)],
      ['`JSON.parse`', n(r.json_parse_ns)],
      ['zod: the `session.state` schema, compiled (`z.compile`), on the freshly parsed object', n(zod)],
      ['of which the nested `failure` object (`SessionFailure`)', n(zodFailure)],
      ['zod on the same shape without limits (bare string, number, enum), compiled', n(zodBare)],
      ['the rest: size, subject, type and version checks; the result', n(rest)],
    ],
  );
  const plain = mdTable(
    ['ordinary transition, no `failure`', 'ns per message (median)'],
    [
      ['`decode`', n(r.plain_decode_ns)],
      ['bare `JSON.parse` of the same text', n(r.plain_json_parse_ns)],
    ],
  );
  const hotTable = mdTable(
    ['message type', 'bytes', 'decode ns', 'JSON.parse ns', 'ratio'],
    hot.map((c) => [
      `\`${c.type}\``,
      n(c.bytes.byteLength),
      n(nsOf(`hot_decode:${c.type}`)),
      n(nsOf(`hot_json:${c.type}`)),
      String(r.ratios[c.type]),
    ]),
  );
  return `# Protocol codec benchmark

Generated by \`npm run bench:protocol -- --write-docs\` (bench/protocol.bench.ts). Do not edit by hand.

Each hot message type, one real message of each captured from a live pool
(bench/protocol/messages.json, written by bench/protocol/capture.ts), decoded from its bytes on
the subject it arrived on, next to bare \`JSON.parse\` of the same text (median of ${BATCHES}
interleaved batches, after a warm-up). Highest ratio: **${r.max_ratio}** (target ${r.target_ratio}).

${hotTable}

Message: one \`session.state\` event of a session that failed to connect, with its typed
\`failure\` (phase, code, and the message the session machine writes), ${r.bytes} bytes of UTF-8
JSON, decoded from a \`Uint8Array\` on its events subject. Each figure is the median of ${BATCHES}
interleaved batches, after a warm-up.

${results}

Ratio decode / JSON.parse: **${r.ratio_decode_to_json_parse}**.

Where decode's time goes (same run; zod parts are measured on a fresh \`JSON.parse\` each call,
minus that parse):

${breakdown}

Most transitions carry no failure; that event is ${r.plain_bytes} bytes, ratio **${r.plain_ratio}**:

${plain}

Hardware: ${r.hardware.cpu}, ${r.hardware.cores} cores, ${r.hardware.ram_gb} GB RAM, Node ${r.hardware.node}.
Other processes may have shared the machine; treat the figures as indicative.
`;
}

/** A markdown table padded the way Biome formats one: first column left, the others right. */
function mdTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
