import { describe, expect, it } from 'vitest';
import { LogLimiter } from '../../src/runtime/log-limiter.ts';

describe('LogLimiter', () => {
  it('lets `burst` lines per key through per window, then reports how many it held back', () => {
    let now = 0;
    const limiter = new LogLimiter(2, 1000, () => now);
    const got = Array.from({ length: 5 }, () => limiter.allow('invalid_json').log);
    expect(got).toEqual([true, true, false, false, false]);
    expect(limiter.allow('other').log).toBe(true);
    now = 1000;
    expect(limiter.allow('invalid_json')).toEqual({ log: true, suppressed: 3 });
    expect(limiter.allow('invalid_json')).toEqual({ log: true, suppressed: 0 });
  });
});
