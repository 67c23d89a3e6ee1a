import { describe, expect, it } from 'vitest';
import { ProtocolError, toErrorData } from '../../src/protocol/index.ts';

describe('toErrorData: anything thrown, as wire data', () => {
  it('keeps the code of error data and of typed errors that carry a known code', () => {
    expect(toErrorData({ code: 'no_capacity', message: 'full' })).toEqual({
      code: 'no_capacity',
      message: 'full',
    });
    const typed = Object.assign(new Error('room gone'), { code: 'connect_failed' });
    expect(toErrorData(typed, 'greet_failed')).toEqual({ code: 'connect_failed', message: 'room gone' });
  });

  it('gives everything else the fallback code and a readable message, never internals', () => {
    expect(toErrorData(new Error('boom'))).toEqual({ code: 'internal', message: 'boom' });
    expect(toErrorData(new TypeError(''), 'prewarm_failed')).toEqual({
      code: 'prewarm_failed',
      message: 'TypeError',
    });
    // A system error's code (ENOENT) is not one of ours: the fallback stands.
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    expect(toErrorData(enoent)).toEqual({ code: 'internal', message: 'no such file' });
    expect(toErrorData('plain text')).toEqual({ code: 'internal', message: 'plain text' });
    expect(toErrorData(undefined)).toEqual({ code: 'internal', message: 'no reason given' });
    expect(toErrorData(() => 'secret source')).toEqual({ code: 'internal', message: 'unknown error' });
    expect(toErrorData({ secret: 1 })).toEqual({ code: 'internal', message: 'unknown error' });
  });

  it('turns a ProtocolError into invalid_message with its reason and path', () => {
    const err = new ProtocolError('invalid_fields', 'bad agent', { messageType: 'dispatch', path: 'agent' });
    expect(toErrorData(err)).toEqual({
      code: 'invalid_message',
      message: 'bad agent',
      details: { reason: 'invalid_fields', messageType: 'dispatch', path: 'agent' },
    });
  });
});
