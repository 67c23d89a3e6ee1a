import { ALLOWED_TYPES, type MessageType, type SubjectKind, subjects } from '../../../src/protocol/index.ts';

const s = subjects('demo');
const SAMPLE: Record<SubjectKind, string> = {
  hello: s.hello('worker-01'),
  events: s.events('worker-01'),
  broadcast: s.broadcast,
  cmd: s.workerCmd('worker-01'),
  dispatch: s.dispatch,
  status: s.status,
  history: s.history,
  rollout: s.rollout,
  inspect: s.inspect('supervisor'),
  inbox: '_INBOX.Kq3T8Yb2WcVn9d0fRj1pLs.7',
};

/** A subject of pool `demo` on which `type` is accepted. */
export function subjectFor(type: MessageType): string {
  const kind = (Object.keys(ALLOWED_TYPES) as SubjectKind[]).find((k) => ALLOWED_TYPES[k].includes(type));
  if (!kind) throw new Error(`no subject accepts ${type}`);
  return SAMPLE[kind];
}

/** A subject of pool `demo` on which `type` is NOT accepted. */
export function wrongSubjectFor(type: MessageType): string {
  const kind = (Object.keys(ALLOWED_TYPES) as SubjectKind[]).find((k) => !ALLOWED_TYPES[k].includes(type));
  return SAMPLE[kind as SubjectKind];
}
