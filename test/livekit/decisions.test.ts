import { JobStatus } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import type { AgentSpec } from '../../src/protocol/index.ts';
import { decideAvailability, Reservations } from '../../src/runtime/livekit/availability.ts';
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
    expect(jobs.onState('s1', 'active')).toEqual({
      jobId: 'AJ_1',
      status: JobStatus.JS_RUNNING,
      error: '',
      link: 0,
    });
    expect(jobs.onState('s1', 'active')).toBeUndefined();
    expect(jobs.onState('s1', 'closed')).toEqual({
      jobId: 'AJ_1',
      status: JobStatus.JS_SUCCESS,
      error: '',
      link: 0,
    });
    expect(jobs.onState('s1', 'closed')).toBeUndefined();
    expect(jobs.size).toBe(0);
  });

  it('failed and cancelled → JS_FAILED with the error text; after a termination nothing (the server closed the job)', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_2', 's2');
    jobs.add('AJ_3', 's3');
    jobs.add('AJ_4', 's4');
    expect(jobs.onState('s2', 'failed', { code: 'connect_failed', message: 'attempt 3: refused' })).toEqual({
      jobId: 'AJ_2',
      status: JobStatus.JS_FAILED,
      error: 'connect_failed: attempt 3: refused',
      link: 0,
    });
    jobs.terminated('AJ_3');
    expect(jobs.onState('s3', 'closing')).toBeUndefined();
    expect(jobs.onState('s3', 'cancelled')).toBeUndefined();
    expect(jobs.onState('s4', 'cancelled')?.error).toBe('cancelled');
    expect(jobs.onState('s9', 'closed')).toBeUndefined(); // not a LiveKit job
    expect(jobs.size).toBe(0);
  });

  it('success goes out when an active session starts closing (before it leaves the room), once', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_5', 's5', 7);
    jobs.add('AJ_6', 's6', 7);
    expect(jobs.onState('s5', 'active')?.status).toBe(JobStatus.JS_RUNNING);
    expect(jobs.onState('s5', 'closing')).toEqual({
      jobId: 'AJ_5',
      status: JobStatus.JS_SUCCESS,
      error: '',
      link: 7,
    });
    expect(jobs.onState('s5', 'failed', { code: 'close_timeout', message: 'slow' })).toBeUndefined();
    // Closing from connecting is a cancel or a failure: the final state says which.
    expect(jobs.onState('s6', 'connecting')).toBeUndefined();
    expect(jobs.onState('s6', 'closing')).toBeUndefined();
    expect(jobs.onState('s6', 'failed', { code: 'connect_failed', message: 'x' })?.status).toBe(
      JobStatus.JS_FAILED,
    );
  });

  it('an active session that fails is JS_FAILED with its error as soon as it starts closing, not JS_SUCCESS', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_10', 's10', 3);
    expect(jobs.onState('s10', 'active')?.status).toBe(JobStatus.JS_RUNNING);
    // The session machine's `closing` carries the failure that brought it there.
    expect(jobs.onState('s10', 'closing', { code: 'session_error', message: 'the LLM failed' })).toEqual({
      jobId: 'AJ_10',
      status: JobStatus.JS_FAILED,
      error: 'session_error: the LLM failed',
      link: 3,
    });
    expect(
      jobs.onState('s10', 'failed', { code: 'session_error', message: 'the LLM failed' }),
    ).toBeUndefined();
    expect(jobs.size).toBe(0);
  });

  it('a closed connection orphans its jobs: nothing more is sent for them', () => {
    const jobs = new JobTracker();
    jobs.add('AJ_7', 's7', 1);
    jobs.add('AJ_8', 's8', 2);
    expect(jobs.orphan(1)).toEqual([{ jobId: 'AJ_7', session: 's7' }]);
    expect(jobs.onState('s7', 'active')).toBeUndefined();
    expect(jobs.countOn(2)).toBe(1);
  });
});

describe('reservations: an accepted job holds its slot until assigned', () => {
  it('counts held slots against capacity, and releases them on assignment, expiry or a closed connection', () => {
    const expired: string[] = [];
    const held = new Reservations((id) => expired.push(id));
    held.hold('AJ_1', 'dental', 1, 60_000);
    held.hold('AJ_2', 'dental', 2, 60_000);
    expect(
      decideAvailability(registry, roomJob('dental-1'), { active: 2, capacity: 4, reserved: held.size }),
    ).toMatchObject({ accept: false });
    expect(held.release('AJ_1')).toBe('dental');
    expect(held.releaseLink(2)).toBe(1);
    expect(held.size).toBe(0);
    held.clear();
  });

  it('a registration under an agent name serves that agent, whatever the job says', () => {
    const job = roomJob('restaurant-1', { metadata: '{"agent":"restaurant"}' });
    expect(decideAvailability(registry, job, free, { agent: 'dental' })).toMatchObject({
      accept: true,
      agent: 'dental',
      via: 'registration',
    });
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
