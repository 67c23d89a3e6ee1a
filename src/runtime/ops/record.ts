import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Actor } from 'xstate';
import { endedSession } from '../../actors/pool-views.ts';
import type { SupervisorMachine } from '../../actors/supervisor.machine.ts';
import type { SessionView } from '../../actors/supervisor.types.ts';
import { toErrorData } from '../../protocol/index.ts';
import type { InspectHistory, SessionHistory } from '../inspect/history.ts';
import type { Logger } from '../logger.ts';
import type { Bus } from '../nats/bus.ts';

/** Retention of the durable record: both bounds apply (docs/operations.md). */
export interface RecordOptions {
  /** Ended sessions kept (the newest). Default 10,000. */
  maxSessions?: number;
  /** How long an ended session is kept. Default 7 days. */
  maxAgeMs?: number;
}

/** What the record holds per ended session: its final view and its transition history. */
export interface RecordEntry {
  v: 1;
  view: SessionView;
  history?: SessionHistory;
}

const DAY_MS = 86_400_000;
/**
 * How long after a session's end its record is written: the worker's last inspection events can
 * trail its `session.ended`, and the history should hold them.
 */
const WRITE_DELAY_MS = 1000;

/**
 * The pool's durable record of ended sessions, in a JetStream stream (one message per session,
 * the latest only, bounded by count and age): what a restarted or standby supervisor answers
 * `status` and `history` from for sessions that ended before it started.
 */
export class DurableRecord {
  /** Writes scheduled: each timer with the write it will do. */
  private readonly pending = new Map<NodeJS.Timeout, () => void>();
  private readonly writes = new Set<Promise<unknown>>();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /** Opens (creating or updating) the pool's record stream. Throws when the server has no JetStream. */
  static async open(bus: Bus, pool: string, log: Logger, opts: RecordOptions = {}): Promise<DurableRecord> {
    const js = await bus.jetstream();
    const jsm = await js.jetstreamManager();
    const { stream, prefix } = recordNames(pool);
    const config = {
      name: stream,
      subjects: [`${prefix}.*`],
      max_msgs_per_subject: 1,
      max_msgs: opts.maxSessions ?? 10_000,
      // nanoseconds
      max_age: (opts.maxAgeMs ?? 7 * DAY_MS) * 1_000_000,
    };
    try {
      await jsm.streams.info(stream);
      await jsm.streams.update(stream, config);
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      await jsm.streams.add(config);
    }
    return new DurableRecord(js, jsm, stream, prefix, log);
  }

  /** Writes every session that ends, with its history, shortly after its end. */
  attach(actor: Actor<SupervisorMachine>, history: InspectHistory): void {
    const later = (session: string) => {
      const run = () => {
        this.pending.delete(timer);
        const view = endedSession(actor.getSnapshot().context, session);
        if (view) this.write(view, history.get(session));
      };
      const timer = setTimeout(run, WRITE_DELAY_MS);
      this.pending.set(timer, run);
    };
    actor.on('session.ended', (e) => later(e.sessionId));
    actor.on('session.lost', (e) => later(e.sessionId));
  }

  write(view: SessionView, history?: SessionHistory): void {
    const { start, ...plain } = view;
    const entry: RecordEntry = { v: 1, view: plain, ...(history ? { history } : {}) };
    const p = this.js
      .publish(`${this.prefix}.${view.session}`, JSON.stringify(entry))
      .catch((err) =>
        this.log.warn({ err: toErrorData(err), session: view.session }, 'durable record: write failed'),
      )
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }

  /** The record of one session, or undefined. */
  async get(session: string): Promise<RecordEntry | undefined> {
    try {
      const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: `${this.prefix}.${session}` });
      return m ? (m.json() as RecordEntry) : undefined;
    } catch (err) {
      if (/not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /** The newest `limit` ended sessions, oldest end first. */
  async load(limit: number): Promise<RecordEntry[]> {
    const info = await this.jsm.streams.info(this.stream);
    const { messages, last_seq, first_seq } = info.state;
    if (messages === 0) return [];
    const start = Math.max(first_seq, last_seq - limit + 1);
    const consumer = await this.js.consumers.get(this.stream, {
      opt_start_seq: start,
      deliver_policy: DeliverPolicy.StartSequence,
    });
    const out: RecordEntry[] = [];
    const iter = await consumer.fetch({ max_messages: limit, expires: 5000 });
    for await (const m of iter) {
      out.push(m.json() as RecordEntry);
      if (m.info.pending === 0) break;
    }
    return out.sort((a, b) => a.view.since - b.view.since).slice(-limit);
  }

  /** Waits for the writes under way and those scheduled (a clean stop loses none). */
  async flush(): Promise<void> {
    for (const [timer, run] of this.pending) {
      clearTimeout(timer);
      run();
    }
    await Promise.allSettled([...this.writes]);
  }
}

/** The JetStream stream of a pool's durable record, and the subject prefix of its messages. */
export function recordNames(pool: string): { stream: string; prefix: string } {
  return { stream: `OPENRTC_RECORD_${pool}`, prefix: `openrtc_record.${pool}` };
}
