import { ParticipantKind, type RemoteParticipant, Room } from '@livekit/rtc-node';

/**
 * An rtc-node Room that "joins" without a LiveKit server (the double runs no SFU): `connect`
 * marks it joined under the job's room name with one caller already there, `disconnect` leaves. Everything else is rtc-node's Room, and the JobContext around it is
 * agents-js's own: what is under test is when and in what order agents-js's JobContext and
 * AgentSession are used around the join and the leave. `steps` records join and leave.
 */
export class JoinedRoom extends Room {
  private joined = false;

  constructor(
    private readonly roomName: string,
    readonly steps: string[],
    readonly caller = 'caller-1',
  ) {
    super();
  }

  override get isConnected(): boolean {
    return this.joined;
  }

  override get name(): string | undefined {
    return this.joined ? this.roomName : undefined;
  }

  override async connect(): Promise<void> {
    this.steps.push('join');
    this.joined = true;
    const caller = { identity: this.caller, info: { kind: ParticipantKind.STANDARD } };
    this.remoteParticipants.set(this.caller, caller as unknown as RemoteParticipant);
  }

  override async disconnect(): Promise<void> {
    this.steps.push('leave');
    this.joined = false;
    this.remoteParticipants.clear();
  }
}
