/** The result of running N streams or sessions for one probe. */
export interface Probe {
  n: number;
  pass: boolean;
  /** Main-thread event loop utilization (0..1), used to guess the next N. */
  elu: number;
}

export interface SearchOptions {
  start: number;
  max: number;
  /** Stop when the gap between the largest passing and smallest failing N is at most this fraction. */
  resolution: number;
  maxProbes: number;
  /** The utilization aimed at when extrapolating from the first probe. */
  targetElu?: number;
}

/**
 * The largest N that passes, assuming passing is monotone in N. The first probe at `start`
 * extrapolates from its loop utilization; then it grows by 25% until a failure (or shrinks until a
 * pass), then bisects down to `resolution`. Returns the largest passing N (0 if none did).
 */
export async function findLimit(
  run: (n: number) => Promise<Probe>,
  o: SearchOptions,
): Promise<{ limit: number; probes: Probe[] }> {
  const probes: Probe[] = [];
  let good = 0;
  let bad = Number.POSITIVE_INFINITY;
  const probe = async (n: number) => {
    const p = await run(n);
    probes.push(p);
    if (p.pass) good = Math.max(good, n);
    else bad = Math.min(bad, n);
    return p;
  };
  const first = await probe(o.start);
  let next = first.pass
    ? Math.round((o.start * (o.targetElu ?? 0.8)) / Math.max(first.elu, 0.01))
    : Math.floor(o.start / 2);
  next = Math.min(o.max, Math.max(1, next));
  while (probes.length < o.maxProbes) {
    if (next <= good || next >= bad) {
      if (bad === Number.POSITIVE_INFINITY) {
        if (good >= o.max) break;
        next = Math.min(o.max, Math.ceil(good * 1.25));
      } else {
        if (bad - good <= Math.max(1, Math.floor(good * o.resolution))) break;
        next = Math.floor((good + bad) / 2);
      }
      if (next <= good || next >= bad) break;
    }
    const p = await probe(next);
    if (p.pass && bad === Number.POSITIVE_INFINITY) next = Math.min(o.max, Math.ceil(next * 1.25));
    else if (!p.pass && good === 0) next = Math.max(1, Math.floor(next * 0.8));
    else next = Math.floor((good + bad) / 2);
  }
  return { limit: good, probes };
}
