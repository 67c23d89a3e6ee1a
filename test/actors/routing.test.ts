import { describe, expect, it } from 'vitest';
import { agentNameFromMetadata, type RouteRequest, routeJob } from '../../src/actors/routing.ts';
import type { AgentSpec } from '../../src/protocol/index.ts';

const agent = (name: string): AgentSpec => ({ name, module: `./agents/${name}.ts` });
const registry = [agent('restaurant'), agent('dental'), agent('support')];
const json = (value: unknown) => JSON.stringify(value);

function routed(request: RouteRequest) {
  const result = routeJob(registry, request);
  if (!result.ok) throw new Error(`expected a route, got ${result.error.code}: ${result.error.message}`);
  return { agent: result.agent.name, via: result.via };
}

function refused(request: RouteRequest, reg: AgentSpec[] = registry) {
  const result = routeJob(reg, request);
  if (result.ok) throw new Error(`expected an error, got ${result.agent.name} via ${result.via}`);
  return result.error;
}

describe('routing follows the OpenRTC chain', () => {
  it.each([
    [
      'a dispatch that names the agent beats every metadata',
      { agent: 'support', job: { metadata: json({ agent: 'dental' }) } },
      'support',
      'dispatch',
    ],
    [
      '1. job metadata `agent`',
      { job: { metadata: json({ agent: 'dental' }), roomMetadata: json({ agent: 'support' }) } },
      'dental',
      'job_metadata',
    ],
    [
      '2. job metadata `demo`',
      { job: { metadata: json({ demo: 'support' }), roomMetadata: json({ agent: 'dental' }) } },
      'support',
      'job_metadata',
    ],
    [
      '`agent` beats `demo` in the same metadata',
      { job: { metadata: json({ agent: 'dental', demo: 'support' }) } },
      'dental',
      'job_metadata',
    ],
    [
      '3. room metadata `agent`',
      { job: { roomMetadata: json({ agent: 'support' }), room: 'dental-1' } },
      'support',
      'room_metadata',
    ],
    [
      '4. room metadata `demo`',
      { job: { roomMetadata: json({ demo: 'dental' }), room: 'support-1' } },
      'dental',
      'room_metadata',
    ],
    ['5. room-name prefix `<name>-`', { job: { room: 'dental-follow-up' } }, 'dental', 'room_prefix'],
    ['6. the first registered agent', { job: { room: 'general-room' } }, 'restaurant', 'default'],
    ['metadata may be an object', { job: { metadata: { agent: 'support' } } }, 'support', 'job_metadata'],
    ['no job at all falls back to the first agent', {}, 'restaurant', 'default'],
  ] as const)('%s', (_name, request, name, via) => {
    expect(routed(request as RouteRequest)).toEqual({ agent: name, via });
  });

  it.each([
    ['blank', '   '],
    ['not JSON', 'agent=dental'],
    ['a JSON scalar', json('dental')],
    ['a JSON array', json(['dental'])],
    ['an object without agent or demo', json({ caller: 'x' })],
    ['a non-string agent', json({ agent: 42 })],
    ['a blank agent', json({ agent: '  ' })],
  ])('job metadata that is %s is ignored', (_name, metadata) => {
    expect(routed({ job: { metadata, room: 'support-9' } })).toEqual({
      agent: 'support',
      via: 'room_prefix',
    });
  });

  it('a room prefix needs the dash: "dentalcare" is not "dental-"', () => {
    expect(routed({ job: { room: 'dentalcare' } })).toEqual({ agent: 'restaurant', via: 'default' });
  });

  it('names are trimmed', () => {
    expect(agentNameFromMetadata(json({ agent: ' dental ' }))).toBe('dental');
  });
});

describe('routing errors', () => {
  it('an unknown agent in job metadata is an error, never a fallback', () => {
    const error = refused({ job: { metadata: json({ agent: 'missing' }), room: 'dental-1' } });
    expect(error.code).toBe('unknown_agent');
    expect(error.message).toBe("Unknown agent 'missing' requested via job metadata");
  });

  it('an unknown `demo` in job metadata names job metadata', () => {
    expect(refused({ job: { metadata: json({ demo: 'nope' }) } }).message).toBe(
      "Unknown agent 'nope' requested via job metadata",
    );
  });

  it('an unknown agent in room metadata names room metadata', () => {
    const error = refused({ job: { roomMetadata: json({ agent: 'ghost' }) } });
    expect(error).toMatchObject({
      code: 'unknown_agent',
      message: "Unknown agent 'ghost' requested via room metadata",
    });
  });

  it('an unknown agent named by the dispatch names the dispatch', () => {
    const error = refused({ agent: 'x', job: { metadata: json({ agent: 'dental' }) } });
    expect(error).toMatchObject({
      code: 'unknown_agent',
      message: "Unknown agent 'x' requested via dispatch",
    });
  });

  it('an empty registry is no_agents', () => {
    expect(refused({ agent: 'dental' }, []).code).toBe('no_agents');
  });

  it('explicitOnly refuses the first-registered fallback', () => {
    expect(refused({ explicitOnly: true, job: { room: 'general' } }).code).toBe('no_explicit_agent');
  });

  it('explicitOnly still accepts every explicit rule', () => {
    expect(routed({ explicitOnly: true, job: { room: 'support-2' } }).via).toBe('room_prefix');
    expect(routed({ explicitOnly: true, job: { metadata: json({ demo: 'dental' }) } }).via).toBe(
      'job_metadata',
    );
  });
});
