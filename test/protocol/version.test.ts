import { describe, expect, it } from 'vitest';
import { negotiateVersion, PROTOCOL_VERSION, SUPPORTED_VERSIONS } from '../../src/protocol/index.ts';

describe('negotiateVersion', () => {
  it('picks the highest version both sides support', () => {
    expect(negotiateVersion({ min: 1, max: 3 }, { min: 2, max: 5 })).toBe(3);
    expect(negotiateVersion({ min: 2, max: 5 }, { min: 1, max: 3 })).toBe(3);
    expect(negotiateVersion({ min: 1, max: 4 }, { min: 2, max: 2 })).toBe(2);
  });

  it('agrees on a single shared version at the edge of both ranges', () => {
    expect(negotiateVersion({ min: 1, max: 2 }, { min: 2, max: 4 })).toBe(2);
  });

  it('returns null when the ranges do not overlap', () => {
    expect(negotiateVersion({ min: 1, max: 1 }, { min: 2, max: 3 })).toBeNull();
    expect(negotiateVersion({ min: 4, max: 6 }, { min: 1, max: 3 })).toBeNull();
  });

  it('this build can talk to itself at its own version', () => {
    expect(SUPPORTED_VERSIONS.min).toBeLessThanOrEqual(PROTOCOL_VERSION);
    expect(SUPPORTED_VERSIONS.max).toBeGreaterThanOrEqual(PROTOCOL_VERSION);
    expect(negotiateVersion(SUPPORTED_VERSIONS, SUPPORTED_VERSIONS)).toBe(SUPPORTED_VERSIONS.max);
  });
});
