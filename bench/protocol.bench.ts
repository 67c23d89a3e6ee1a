/**
 * Codec cost on a typical ~300-byte session.state event, next to bare JSON.parse of the same
 * bytes measured in the same run. Prints exactly one JSON line on stdout; in full mode (no
 * `--quick`) also writes docs/benchmarks/protocol.md.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Detail,
  decode,
  encode,
  envelope,
  MESSAGE_SCHEMAS,
  type Message,
  subjects,
} from '../src/protocol/index.ts';

const quick = process.argv.includes('--quick');
const BATCHES = quick ? 5 : 21;
const TARGET_BATCH_MS = quick ? 20 : 100;

const subject = subjects('bench').events('worker-01');
const message: Message = envelope(
  'session.state',
  'worker-01',
  {
    session: 'sess-3f9a2c71-5b0e-4d1a',
    worker: 'worker-01',
    epoch: 'e-9c41d2f07a',
    state: 'active',
    seq: 4,
    detail: { agent: 'dental', room: 'dental-call-000142', transport: 'livekit', attempt: 1, greeted: true },
  },
  { id: '0b6f3c1e-8d1f-4c2a-9b7e-2f5d8a1c4e60', ts: 1_764_400_000_000 },
);
const bytes = encode(message);
const text = new TextDecoder().decode(bytes);
const parsed = JSON.parse(text) as { detail: unknown };
const utf8 = new TextDecoder();
const { detail: _detail, ...withoutDetail } = message as Message & { detail?: unknown };
const plainBytes = encode(withoutDetail as Message);
const invalidBytes = new TextEncoder().encode(text.replace('"state":"active"', '"state":"dancing"'));

// Sinks keep the optimiser from dropping the measured work.
let sink = 0;
const cases = {
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
  // Parts of decode, for the breakdown in docs/benchmarks/protocol.md.
  utf8_decode: () => {
    sink += utf8.decode(bytes).length;
  },
  schema: () => {
    sink += MESSAGE_SCHEMAS['session.state'].safeParse(parsed).success ? 1 : 0;
  },
  decode_without_detail: () => {
    sink += decode(plainBytes, subject).ok ? 1 : 0;
  },
  schema_detail: () => {
    sink += Detail.safeParse(parsed.detail).success ? 1 : 0;
  },
} as const;
type Case = keyof typeof cases;

if (!decode(bytes, subject).ok || decode(invalidBytes, subject).ok) throw new Error('bench inputs are wrong');

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
const result = {
  bench: 'protocol',
  encode_ns: ns.encode,
  decode_ns: ns.decode,
  decode_invalid_ns: ns.decode_invalid,
  json_parse_ns: ns.json_parse,
  ratio_decode_to_json_parse: Math.round((ns.decode / ns.json_parse) * 100) / 100,
  bytes: bytes.byteLength,
  hardware,
};
if (sink === 0.5) console.error('unreachable');
process.stdout.write(`${JSON.stringify(result)}\n`);

if (!quick) {
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks', 'protocol.md');
  writeFileSync(out, table(result, perBatch));
}

function table(r: typeof result, sizes: Record<Case, number>): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const rest = Math.max(0, round(r.decode_ns - ns.utf8_decode - r.json_parse_ns - ns.schema));
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
      ['zod: the `session.state` schema on the parsed object', n(ns.schema)],
      ['of which the 5-entry `detail` record (`Detail` alone)', n(ns.schema_detail)],
      ['the rest: size, subject, type and version checks; allocation and GC', n(rest)],
    ],
  );
  return `# Protocol codec benchmark

Generated by \`npm run bench:protocol\` (bench/protocol.bench.ts). Do not edit by hand.

Message: one \`session.state\` event, ${r.bytes} bytes of UTF-8 JSON, decoded from a \`Uint8Array\` on
its events subject. Each figure is the median of ${BATCHES} interleaved batches, after a warm-up.

${results}

Ratio decode / JSON.parse: **${r.ratio_decode_to_json_parse}**.

Where decode's time goes (same run):

${breakdown}

zod validates a record key by key through the key and value schemas (each \`Scalar\` is a
four-way union), while it compiles plain objects into one fast function; so the free-form \`detail\`
map costs more than all the fixed fields together. The same event without \`detail\`
(${plainBytes.byteLength} bytes) decodes in ${n(ns.decode_without_detail)} ns.

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
