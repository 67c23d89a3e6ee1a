import { type KV, Kvm } from '@nats-io/kv';
import { toErrorData } from '../../protocol/index.ts';
import type { Logger } from '../logger.ts';
import type { Bus } from '../nats/bus.ts';

/**
 * Leadership of a pool: a lease in a JetStream KV bucket (docs/operations.md).
 * - The bucket's TTL (max age) is the lease: a leader that stops renewing loses it `ttlMs` after
 *   its last renewal. (Per-key TTL needs nats-server 2.11; the bucket TTL works on 2.9.)
 * - Acquiring is `create` (only when no live lease exists); renewing is `update` with the
 *   revision last written (compare-and-set): two supervisors can never both renew one lease.
 * - The term is the revision of the acquiring write: the KV stream's sequence only grows, so a
 *   later leader always has a higher term. Workers refuse commands from an older term.
 */
export interface LeaseOptions {
  /** Lease lifetime without renewal. Default 1500 ms. */
  ttlMs?: number;
  /** Renewal interval. Default ttlMs / 4. */
  renewMs?: number;
}

export interface LeaseHolder {
  id: string;
  term: number;
  since: number;
}

const KEY = 'leader';

export class Lease {
  private revision = 0;
  private timer: NodeJS.Timeout | undefined;
  private held: LeaseHolder | undefined;
  readonly ttlMs: number;
  readonly renewMs: number;

  private constructor(
    private readonly kv: KV,
    readonly bucket: string,
    readonly id: string,
    private readonly log: Logger,
    opts: LeaseOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? 1500;
    this.renewMs = opts.renewMs ?? Math.max(50, Math.floor(this.ttlMs / 4));
  }

  static async open(
    bus: Bus,
    pool: string,
    id: string,
    log: Logger,
    opts: LeaseOptions = {},
  ): Promise<Lease> {
    const kvm = new Kvm(await bus.jetstream());
    const bucket = leaseBucket(pool);
    const ttlMs = opts.ttlMs ?? 1500;
    const kv = await kvm.create(bucket, { ttl: ttlMs, history: 1 });
    return new Lease(kv, bucket, id, log, opts);
  }

  /** The current holder, if a live lease exists. */
  async holder(): Promise<LeaseHolder | undefined> {
    const e = await this.kv.get(KEY);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    return e.json<LeaseHolder>();
  }

  /** Tries once to take the lease; returns the term when taken. */
  async tryAcquire(): Promise<number | undefined> {
    const since = Date.now();
    try {
      // The term is the revision of this very write; it is stored on the next renewal.
      const revision = await this.kv.create(KEY, JSON.stringify({ id: this.id, term: 0, since }));
      this.revision = revision;
      this.held = { id: this.id, term: revision, since };
      return revision;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until this supervisor holds the lease (polling every `pollMs`), or until `giveUpMs`
   * has passed (then undefined). Returns the term.
   */
  async acquire(opts: { pollMs?: number; giveUpMs?: number } = {}): Promise<number | undefined> {
    const deadline = opts.giveUpMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.giveUpMs;
    for (;;) {
      const term = await this.tryAcquire();
      if (term !== undefined) return term;
      if (Date.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
  }

  /**
   * Renews every renewMs with compare-and-set on the last revision. When a renewal fails and
   * another supervisor is seen holding the lease, calls `lost` once: from then on this supervisor
   * must command no worker. While JetStream is unreachable it keeps trying (its commands cannot
   * reach a worker then either, and a worker refuses them once a newer leader has spoken).
   */
  keep(lost: (reason: string) => void): void {
    const held = this.held;
    if (!held) throw new Error('keep() before the lease was acquired');
    const renew = async () => {
      try {
        this.revision = await this.kv.update(KEY, JSON.stringify(held), this.revision);
        this.timer = setTimeout(renew, this.renewMs);
        return;
      } catch {
        // Not renewed: the lease expired (a stall longer than the TTL), someone else holds it, or
        // JetStream is unreachable (then no command of ours reaches a worker either).
      }
      try {
        // Expired and unclaimed: take it back with the same term. No other leader existed in
        // between, since create succeeds only when there is no live lease.
        this.revision = await this.kv.create(KEY, JSON.stringify(held));
        this.log.warn({ term: held.term }, 'leadership lease had expired unclaimed; taken back');
        this.timer = setTimeout(renew, this.renewMs);
        return;
      } catch {
        // Held by someone, or unreachable.
      }
      const holder = await this.holder().catch(() => undefined);
      if (holder && holder.id !== this.id) {
        this.log.error(
          { term: held.term, holder: holder.id, holderTerm: holder.term },
          'leadership lease lost',
        );
        this.timer = undefined;
        lost(`supervisor ${holder.id} holds the lease (term ${holder.term})`);
        return;
      }
      // Unreachable: keep trying. Lost only once another holder is seen.
      this.timer = setTimeout(renew, Math.min(this.renewMs, 100));
    };
    this.timer = setTimeout(renew, 0);
  }

  /** Stops renewing and deletes the lease if still ours, so a standby can take over at once. */
  async release(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = undefined;
    try {
      await this.kv.delete(KEY, { previousSeq: this.revision });
    } catch (err) {
      this.log.debug({ err: toErrorData(err) }, 'lease release failed (it expires by itself)');
    }
  }

  /** Stops renewing without releasing (the lease expires by itself). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The JetStream KV bucket of a pool's leadership lease (its stream is `KV_<bucket>`). */
export function leaseBucket(pool: string): string {
  return `openrtc_lease_${pool}`;
}
