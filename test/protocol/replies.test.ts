import { describe, expect, it } from 'vitest';
import {
  ALLOWED_TYPES,
  ClientRequest,
  DIRECTION_OF,
  REPLIES,
  type RequestType,
  WorkerCommand,
} from '../../src/protocol/index.ts';

describe('the request/reply table of the catalogue', () => {
  it('lists every command, client request and the hello, and nothing else', () => {
    const requests = [
      'hello',
      ...WorkerCommand.options.map((o) => o.shape.type.value),
      ...ClientRequest.options.map((o) => o.shape.type.value),
    ].sort();
    expect(Object.keys(REPLIES).sort()).toEqual(requests);
  });

  it('answers each request only with reply types that a reply inbox accepts (error aside)', () => {
    for (const [request, replies] of Object.entries(REPLIES) as [RequestType, readonly string[]][]) {
      expect(replies.length, request).toBeGreaterThan(0);
      for (const reply of replies) {
        expect(DIRECTION_OF[reply as keyof typeof DIRECTION_OF], `${request} → ${reply}`).toBe('reply');
        expect(ALLOWED_TYPES.inbox).toContain(reply);
        expect(reply).not.toBe('error');
      }
    }
  });
});
