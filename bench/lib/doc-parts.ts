/** Pieces every generated benchmark doc shares. */

/** One line naming the machine and the run. */
export function hardwareLine(hw: unknown): string {
  const h = hw as {
    cpu?: string;
    cores?: number;
    ram_gb?: number;
    node?: string;
    os?: string;
    load_1m?: number;
  };
  const date = new Date().toISOString().slice(0, 10);
  return (
    `Run on ${date}: ${h.cpu}, ${h.cores} cores, ${h.ram_gb} GB RAM, Node ${h.node}, ${h.os}; ` +
    `1-minute load average ${h.load_1m} when the run ended (other work on the machine skews timings).`
  );
}

/** "Target met" / "Target missed" with the target. */
export function verdict(met: boolean, target: string): string {
  return met ? `Target met (${target}).` : `Target missed (${target}).`;
}
