/**
 * Lets through at most `burst` log lines per key per `windowMs`, and reports how many it held
 * back when the next window opens: a flood of bad input must not become a flood of logs.
 */
export class LogLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly burst = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether to log this occurrence of `key`; `suppressed` is the count held back in the previous window. */
  allow(key: string): { log: boolean; suppressed: number } {
    const t = this.now();
    let w = this.windows.get(key);
    let suppressed = 0;
    if (!w || t - w.start >= this.windowMs) {
      suppressed = w?.suppressed ?? 0;
      w = { start: t, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (this.windows.size > 1000) this.windows.clear();
    }
    w.count++;
    if (w.count > this.burst) {
      w.suppressed++;
      return { log: false, suppressed: 0 };
    }
    return { log: true, suppressed };
  }
}
