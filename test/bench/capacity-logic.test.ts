import { describe, expect, it } from 'vitest';
import { findLimit } from '../../bench/capacity/search.ts';
import { DETECTION_MS, judge, SUSTAIN } from '../../bench/capacity/verdict.ts';

const calmLoop = { p50Ms: 0.1, p99Ms: 3, maxMs: 8, elu: 0.3, cpuCores: 0.3, rssMb: 200 };

describe('capacity search', () => {
  it('finds the largest passing N within the resolution, from a guess made on the first probe', async () => {
    for (const threshold of [1, 7, 45, 133, 390]) {
      const tried: number[] = [];
      const { limit } = await findLimit(
        async (n) => {
          tried.push(n);
          return { n, pass: n <= threshold, elu: Math.min(1, n / 200) };
        },
        { start: 10, max: 600, resolution: 0.05, maxProbes: 20 },
      );
      expect(limit).toBeLessThanOrEqual(threshold);
      expect(limit).toBeGreaterThanOrEqual(Math.floor(threshold * 0.95) - 1);
      expect(tried.length).toBeLessThanOrEqual(20);
    }
  });

  it('stops after maxProbes and returns the best pass so far', async () => {
    const { limit, probes } = await findLimit(async (n) => ({ n, pass: n <= 100, elu: n / 120 }), {
      start: 10,
      max: 600,
      resolution: 0.01,
      maxProbes: 3,
    });
    expect(probes).toHaveLength(3);
    expect(probes.filter((p) => p.pass).every((p) => p.n <= limit)).toBe(true);
  });
});

describe('capacity verdict', () => {
  const streams = [
    { id: 'a', audioStartTs: 1000 },
    { id: 'b', audioStartTs: 1000 },
  ];
  const onTime = (id: string, atMs: number) => ({
    id,
    kind: 'end' as const,
    atMs,
    ts: 1000 + atMs + DETECTION_MS.end + 20,
  });

  it('sustains when the loop is calm and every stream reports its speech on time', () => {
    const v = judge({
      streams,
      speech: [onTime('a', 4000), onTime('b', 4300)],
      from: 0,
      to: 1e9,
      loop: calmLoop,
    });
    expect(v.pass).toBe(true);
    expect(v.lateMaxMs).toBe(20);
  });

  it('fails on a slow loop, a silent stream, or speech reported late', () => {
    const slow = judge({
      streams,
      speech: [onTime('a', 4000), onTime('b', 4000)],
      from: 0,
      to: 1e9,
      loop: { ...calmLoop, p99Ms: SUSTAIN.loopP99Ms + 1 },
    });
    expect(slow.pass).toBe(false);
    const silent = judge({ streams, speech: [onTime('a', 4000)], from: 0, to: 1e9, loop: calmLoop });
    expect(silent.silent).toBe(1);
    expect(silent.pass).toBe(false);
    const late = judge({
      streams,
      speech: [onTime('a', 4000), { ...onTime('b', 4000), ts: onTime('b', 4000).ts + SUSTAIN.lateMs }],
      from: 0,
      to: 1e9,
      loop: calmLoop,
    });
    expect(late.pass).toBe(false);
    expect(late.reasons.join()).toMatch(/late/);
  });

  it('ignores speech reported outside the judged period', () => {
    const v = judge({
      streams,
      speech: [onTime('a', 4000), onTime('b', 5000)],
      from: 0,
      to: 6000,
      loop: calmLoop,
    });
    expect(v.silent).toBe(1);
  });
});
