import { describe, expect, it } from 'vitest';
import { decode, envelope, type Message, type MessageType, subjects } from '../../src/protocol/index.ts';
import { InspectPublisher } from '../../src/runtime/inspect/publisher.ts';
import type { Bus } from '../../src/runtime/nats/bus.ts';

/** A bus that keeps what is published, encoded by the real codec. */
function recordingBus(): { bus: Bus; sent: { subject: string; msg: Message }[] } {
  const sent: { subject: string; msg: Message }[] = [];
  const bus = {
    make: (type: MessageType, body: object) => envelope(type, 'w1', body as never),
    publish: (subject: string, msg: Message) => sent.push({ subject, msg }),
  } as unknown as Bus;
  return { bus, sent };
}

describe('InspectPublisher', () => {
  it('a session report with a failure message as long as the protocol allows still encodes: the summary text is cut, the failure is whole', () => {
    const { bus, sent } = recordingBus();
    const message = 'x'.repeat(4096);
    new InspectPublisher(bus, 'p1', 'w1').publish({
      actor: { id: 's1', kind: 'session', parent: 'w1' },
      from: 'active',
      to: 'closing',
      event: 'FAIL',
      seq: 5,
      summary: { agent: 'a', room: 'r', worker: 'w1', error: `session_error: ${message}` },
      report: { epoch: 'e1', failure: { phase: 'active', code: 'session_error', message } },
    });
    const [out] = sent;
    expect(out?.subject).toBe(subjects('p1').inspect('w1'));
    const decoded = decode(JSON.stringify(out?.msg), subjects('p1').inspect('w1'));
    if (!decoded.ok) throw decoded.error;
    const msg = decoded.message as Extract<Message, { type: 'inspect' }>;
    expect(msg.failure?.message).toBe(message);
    expect(msg.epoch).toBe('e1');
    expect(String(msg.summary.error)).toHaveLength(4096);
    expect(String(msg.summary.error)).toMatch(/^session_error: x+…$/);
  });
});
