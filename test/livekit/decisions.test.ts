import { JobStatus } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/protocol/index.ts';
import { decideAvailability } from '../../src/runtime/livekit/availability.ts';
import { JobTracker } from '../../src/runtime/livekit/job-status.ts';
import { agentSocketUrl } from '../../src/runtime/livekit/wire.ts';
import { roomJob } from '../support/livekit-server-double.ts';

const registry: AgentSpec[] = [
  { name: 'restaurant', module: '/a/restaurant.ts' },
  { name: 'dental', module: '/a/dental.ts' },
];
const free = { active: 0, capacity: 4 };

describe('availability: routing and capacity decide whether the pool takes a LiveKit job', () => {
  it('routes on job metadata, then room metadata, then the room-name prefix, then the first agent', () => {
    const jobMeta = roomJob('x', { metadata: '{"agent":"dental"}', roomMetadata: '{"agent":"restaurant"}' });
    expect(decideAvailability(registry, jobMeta, free)).toMatchObject({
      accept: true,
      agent: 'dental',
      via: 'job_metadata',
    });
    const roomMeta = roomJob('restaurant-1', { roomMetadata: '{"demo":"dental"}' });
    expect(decideAvailability(registry, roomMeta, free)).toMatchObject({
      agent: 'dental',
      via: 'room_metadata',
    });
    expect(decideAvailability(registry, roomJob('dental-9'), free)).toMatchObject({
      agent: 'dental',
      via: 'room_prefix',
    });
    expect(decideAvailability(registry, roomJob('lobby'), free)).toMatchObject({
      agent: 'restaurant',
      via: 'default',
    });
  });

  it('explicitOnly declines a job that names no agent, instead of falling back to the first', () => {
    const d = decideAvailability(registry, roomJob('lobby'), free, { explicitOnly: true });
    expect(d).toMatchObject({ accept: false });
    expect(d.accept ? '' : d.reason).toMatch(/^no_explicit_agent/);
    expect(decideAvailability(registry, roomJob('dental-1'), free, { explicitOnly: true }).accept).toBe(true);
  });

  it('declines an unknown agent, a full pool and a draining pool, saying why', () => {
    const reason = (d: ReturnType<typeof decideAvailability>) => (d.accept ? '' : d.reason);
    expect(reason(decideAvailability(registry, roomJob('x', { metadata: '{"agent":"vet"}' }), free))).toMatch(
      /^unknown_agent: Unknown agent 'vet'/,
    );
    expect(reason(decideAvailability(registry, roomJob('dental-1'), { active: 4, capacity: 4 }))).toMatch(
      /^no_capacity/,
    );
    expect(reason(decideAvailability(registry, roomJob('dental-1'), { active: 0, capacity: 0 }))).toMatch(
      /^no_capacity/,
    );
    expect(reason(decideAvailability(registry, roomJob('dental-1'), free, { draining: true }))).toMatch(
      /draining/,
    );
  });
});

describe('job status: session states become updateJob once each', () => {
  it('active → JS_RUNNING, closed → JS_SUCCESS; a repeated state is not sent twice', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_1', 's1');
    expect(jobs.onState('s1', 'connecting')).toBeUndefined();
    expect(jobs.onState('s1', 'active')).toEqual({ jobId: 'AJ_1', status: JobStatus.JS_RUNNING, error: '' });
    expect(jobs.onState('s1', 'active')).toBeUndefined();
    expect(jobs.onState('s1', 'closed')).toEqual({ jobId: 'AJ_1', status: JobStatus.JS_SUCCESS, error: '' });
    expect(jobs.onState('s1', 'closed')).toBeUndefined();
    expect(jobs.size).toBe(0);
  });

  it('failed and cancelled → JS_FAILED with the error text; a termination says so', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_2', 's2');
    jobs.add('AJ_3', 's3');
    expect(jobs.onState('s2', 'failed', { code: 'connect_failed', message: 'attempt 3: refused' })).toEqual({
      jobId: 'AJ_2',
      status: JobStatus.JS_FAILED,
      error: 'connect_failed: attempt 3: refused',
    });
    jobs.terminated('AJ_3');
    expect(jobs.onState('s3', 'cancelled')?.error).toBe('cancelled: the job was terminated by LiveKit');
    expect(jobs.onState('s9', 'closed')).toBeUndefined(); // not a LiveKit job
  });
});

describe('the agent socket URL', () => {
  it('is <url>/agent over ws(s), keeping a path prefix', () => {
    expect(agentSocketUrl('wss://x.livekit.cloud').href).toBe('wss://x.livekit.cloud/agent');
    expect(agentSocketUrl('https://x.example.com/lk/').href).toBe('wss://x.example.com/lk/agent');
    expect(agentSocketUrl('http://127.0.0.1:7880').href).toBe('ws://127.0.0.1:7880/agent');
    expect(() => agentSocketUrl('nats://x')).toThrow(/ws:\/\/, wss:\/\//);
  });
});
