/** The protocol version this build speaks natively, and the range it can negotiate. */
export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS = { min: 1, max: 1 } as const;

export interface VersionRange {
  min: number;
  max: number;
}

/** Highest version both ranges contain, or null when they do not overlap. */
export function negotiateVersion(ours: VersionRange, theirs: VersionRange): number | null {
  const best = Math.min(ours.max, theirs.max);
  return best >= Math.max(ours.min, theirs.min) ? best : null;
}
