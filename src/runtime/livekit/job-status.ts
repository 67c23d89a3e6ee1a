import { JobStatus } from '@livekit/protocol';
import type { ErrorData, SessionState } from '../../protocol/index.ts';

/** One `updateJob` to send: LiveKit's job id, its status, and the error text (empty unless failed). */
export interface JobUpdate {
  jobId: string;
  status: JobStatus;
  error: string;
  /** The connection the job was assigned on (its status goes there, or nowhere). */
  link?: number;
}

interface Tracked {
  jobId: string;
  /** The agent-worker connection (registration and incarnation) the job was assigned on. */
  link: number;
  sent: JobStatus | null;
  /** The last state the session reported. */
  last: SessionState | null;
  /** LiveKit terminated the job: the server has closed it, nothing more is sent. */
  terminated: boolean;
}

const ENDED = new Set<JobStatus>([JobStatus.JS_SUCCESS, JobStatus.JS_FAILED]);

/**
 * Which session serves which LiveKit job, and what LiveKit has been told, in the order
 * livekit-server records it (pkg/agent/worker.go UpdateJobStatus: the first ended status wins and
 * the job is forgotten; later updates are ignored):
 * - `active` → JS_RUNNING;
 * - `closing` after `active` → JS_SUCCESS, or JS_FAILED with the error text when the session
 *   is closing because it failed, before the agent leaves the room (pkg/rtc/room.go records a job
 *   whose agent left the room while still running as JS_FAILED "agent worker left the room");
 * - `closed` → JS_SUCCESS, `failed` and `cancelled` → JS_FAILED with the error text, unless an
 *   ended status went out already;
 * - after a termination, nothing: the server ended the job itself (pkg/agent/worker.go TerminateJob).
 */
export class JobTracker {
  private readonly bySession = new Map<string, Tracked>();
  private readonly byJob = new Map<string, string>();

  /** LiveKit jobs with a session that has not ended. */
  get size(): number {
    return this.bySession.size;
  }

  /** Jobs with a running session assigned on this connection. */
  countOn(link: number): number {
    let n = 0;
    for (const t of this.bySession.values()) if (t.link === link) n++;
    return n;
  }

  add(jobId: string, session: string, link = 0): void {
    if (this.bySession.has(session)) return;
    this.bySession.set(session, { jobId, link, sent: null, last: null, terminated: false });
    this.byJob.set(jobId, session);
  }

  sessionOf(jobId: string): string | undefined {
    return this.byJob.get(jobId);
  }

  /** LiveKit terminated the job: its session is cancelled and no status is sent any more. */
  terminated(jobId: string): void {
    const session = this.byJob.get(jobId);
    const t = session ? this.bySession.get(session) : undefined;
    if (t) t.terminated = true;
  }

  /**
   * The connection closed: livekit-server forgot its jobs (pkg/service/agentservice.go
   * deregisterWorker). Their sessions run on; their statuses are never sent. Returns them.
   */
  orphan(link: number): { jobId: string; session: string }[] {
    const out: { jobId: string; session: string }[] = [];
    for (const [session, t] of this.bySession) {
      if (t.link !== link) continue;
      this.bySession.delete(session);
      this.byJob.delete(t.jobId);
      out.push({ jobId: t.jobId, session });
    }
    return out;
  }

  /** The update a session state calls for, if any; a final state forgets the job. */
  onState(session: string, state: SessionState, error?: ErrorData): JobUpdate | undefined {
    const t = this.bySession.get(session);
    if (!t) return undefined;
    const previous = t.last;
    t.last = state;
    const final = state === 'closed' || state === 'failed' || state === 'cancelled';
    if (final) {
      this.bySession.delete(session);
      this.byJob.delete(t.jobId);
    }
    if (t.terminated || (t.sent !== null && ENDED.has(t.sent))) return undefined;
    const update = statusOf(state, previous, error);
    if (!update || update.status === t.sent) return undefined;
    t.sent = update.status;
    return { jobId: t.jobId, ...update, link: t.link };
  }
}

function statusOf(
  state: SessionState,
  previous: SessionState | null,
  error: ErrorData | undefined,
): { status: JobStatus; error: string } | undefined {
  switch (state) {
    case 'active':
      return { status: JobStatus.JS_RUNNING, error: '' };
    case 'closing':
      // A session that was active is ending: say how before it leaves the room. A failure is
      // known here: the session machine's `closing` carries it.
      if (previous !== 'active') return undefined;
      return error
        ? { status: JobStatus.JS_FAILED, error: `${error.code}: ${error.message}` }
        : { status: JobStatus.JS_SUCCESS, error: '' };
    case 'closed':
      return { status: JobStatus.JS_SUCCESS, error: '' };
    case 'failed':
      return {
        status: JobStatus.JS_FAILED,
        error: error ? `${error.code}: ${error.message}` : 'failed',
      };
    case 'cancelled':
      return { status: JobStatus.JS_FAILED, error: 'cancelled' };
    default:
      return undefined;
  }
}
