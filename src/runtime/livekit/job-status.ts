import { JobStatus } from '@livekit/protocol';
import type { ErrorData, SessionState } from '../../protocol/index.ts';

/** One `updateJob` to send: LiveKit's job id, its status, and the error text (empty unless failed). */
export interface JobUpdate {
  jobId: string;
  status: JobStatus;
  error: string;
}

interface Tracked {
  jobId: string;
  sent: JobStatus | null;
  terminated: boolean;
}

/**
 * Which session serves which LiveKit job, and what LiveKit has been told: `active` becomes
 * JS_RUNNING, `closed` JS_SUCCESS, `failed` and `cancelled` JS_FAILED with the error text. Each
 * status is sent once, so repeated final states (the supervisor may report one twice) are dropped.
 */
export class JobTracker {
  private readonly bySession = new Map<string, Tracked>();
  private readonly byJob = new Map<string, string>();

  /** LiveKit jobs with a session that has not ended. */
  get size(): number {
    return this.bySession.size;
  }

  add(jobId: string, session: string): void {
    if (this.bySession.has(session)) return;
    this.bySession.set(session, { jobId, sent: null, terminated: false });
    this.byJob.set(jobId, session);
  }

  sessionOf(jobId: string): string | undefined {
    return this.byJob.get(jobId);
  }

  /** LiveKit terminated the job: the cancellation that follows is reported as such. */
  terminated(jobId: string): void {
    const session = this.byJob.get(jobId);
    const t = session ? this.bySession.get(session) : undefined;
    if (t) t.terminated = true;
  }

  /** The update a session state calls for, if any; a final state forgets the job. */
  onState(session: string, state: SessionState, error?: ErrorData): JobUpdate | undefined {
    const t = this.bySession.get(session);
    if (!t) return undefined;
    const update = statusOf(state, error, t.terminated);
    if (!update || update.status === t.sent) return undefined;
    if (update.status !== JobStatus.JS_RUNNING) {
      this.bySession.delete(session);
      this.byJob.delete(t.jobId);
    }
    t.sent = update.status;
    return { jobId: t.jobId, ...update };
  }
}

function statusOf(
  state: SessionState,
  error: ErrorData | undefined,
  terminated: boolean,
): { status: JobStatus; error: string } | undefined {
  switch (state) {
    case 'active':
      return { status: JobStatus.JS_RUNNING, error: '' };
    case 'closed':
      return { status: JobStatus.JS_SUCCESS, error: '' };
    case 'failed':
      return {
        status: JobStatus.JS_FAILED,
        error: error ? `${error.code}: ${error.message}` : 'failed',
      };
    case 'cancelled':
      return {
        status: JobStatus.JS_FAILED,
        error: terminated ? 'cancelled: the job was terminated by LiveKit' : 'cancelled',
      };
    default:
      return undefined;
  }
}
