import type { MessageType } from './catalogue.ts';

/**
 * Every NATS subject is built here and nowhere else. Layout, for pool P:
 *   openrtc.P.sup.hello.<worker>    worker → supervisor   request/reply: hello → welcome | error
 *   openrtc.P.sup.events.<worker>   worker → supervisor   publish: heartbeat, worker/session events
 *   openrtc.P.sup.broadcast         supervisor → workers  publish: supervisor.up
 *   openrtc.P.worker.<worker>.cmd   supervisor → worker   request/reply: commands → ack | error
 *   openrtc.P.dispatch              client → supervisor   request/reply: dispatch → dispatch.ok | error
 *   openrtc.P.status                client → supervisor   request/reply: status → status.ok | error
 *   openrtc.P.history               client → supervisor   request/reply: history → history.ok | error
 *   openrtc.P.rollout               client → supervisor   request/reply: rollout → rollout.ok | error
 *   openrtc.P.inspect.<source>      any → inspectors      publish: inspect
 * A worker's own id is in every subject it may publish on, so nats-server permissions can pin
 * each worker to its own subjects.
 */
export const ROOT = 'openrtc';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function token(kind: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new TypeError(`${kind} '${value}' is not a valid subject token (1-64 of A-Z a-z 0-9 _ -)`);
  }
  return value;
}

export function subjects(pool: string) {
  const p = `${ROOT}.${token('pool', pool)}`;
  return {
    prefix: p,
    hello: (worker: string) => `${p}.sup.hello.${token('worker id', worker)}`,
    helloAll: `${p}.sup.hello.*`,
    events: (worker: string) => `${p}.sup.events.${token('worker id', worker)}`,
    eventsAll: `${p}.sup.events.*`,
    broadcast: `${p}.sup.broadcast`,
    workerCmd: (worker: string) => `${p}.worker.${token('worker id', worker)}.cmd`,
    dispatch: `${p}.dispatch`,
    status: `${p}.status`,
    history: `${p}.history`,
    rollout: `${p}.rollout`,
    inspect: (source: string) => `${p}.inspect.${token('inspect source', source)}`,
    inspectAll: `${p}.inspect.*`,
    /** Everything under this pool: for permissions and taps. */
    all: `${p}.>`,
  };
}
export type Subjects = ReturnType<typeof subjects>;

export type SubjectKind =
  | 'hello'
  | 'events'
  | 'broadcast'
  | 'cmd'
  | 'dispatch'
  | 'status'
  | 'history'
  | 'rollout'
  | 'inspect'
  | 'inbox';

export interface ParsedSubject {
  kind: SubjectKind;
  pool?: string;
  /** The worker (or inspect source) the subject belongs to. */
  owner?: string;
}

/** Which message types may arrive on each kind of subject. */
export const ALLOWED_TYPES: Record<SubjectKind, readonly MessageType[]> = {
  hello: ['hello'],
  events: ['heartbeat', 'worker.state', 'session.state', 'session.ended', 'session.speech'],
  broadcast: ['supervisor.up'],
  cmd: ['session.start', 'session.cancel', 'drain', 'shutdown'],
  dispatch: ['dispatch'],
  status: ['status'],
  history: ['history'],
  rollout: ['rollout'],
  inspect: ['inspect'],
  inbox: ['welcome', 'ack', 'dispatch.ok', 'status.ok', 'history.ok', 'rollout.ok', 'error'],
};

/** Parses a subject of ours, or a reply inbox; null for anything else. */
export function parseSubject(subject: string): ParsedSubject | null {
  if (subject.startsWith('_INBOX.')) return { kind: 'inbox' };
  const parts = subject.split('.');
  if (parts[0] !== ROOT || parts.length < 3) return null;
  const pool = parts[1];
  const rest = parts.slice(2);
  const [a, b, c] = rest;
  if (rest.length === 3 && a === 'sup' && (b === 'hello' || b === 'events'))
    return { kind: b, pool, owner: c };
  if (rest.length === 2 && a === 'sup' && b === 'broadcast') return { kind: 'broadcast', pool };
  if (rest.length === 3 && a === 'worker' && c === 'cmd') return { kind: 'cmd', pool, owner: b };
  if (rest.length === 1 && (a === 'dispatch' || a === 'status' || a === 'history' || a === 'rollout'))
    return { kind: a, pool };
  if (rest.length === 2 && a === 'inspect') return { kind: 'inspect', pool, owner: b };
  return null;
}
