import type { ErrorCode } from '../../protocol/common.ts';

export interface SpeechEvent {
  kind: 'start' | 'end';
  /** Position in the session's input audio, in ms. */
  atMs: number;
  /** User utterances started so far in this session (the one that just started or ended included). */
  speechCount: number;
}

/** What a VoiceSession reports while it runs, whatever its transport; every callback is optional. */
export interface VoiceSessionEvents {
  /** The transport ended by itself: the input finished (the VAD caught up), the caller left, the room or job ended, or the AgentSession ended itself. */
  transportEnded?(reason?: string): void;
  /** The VAD heard the user start or stop speaking. */
  speech?(e: SpeechEvent): void;
  /** The AgentSession failed after it started (it closed itself on an unrecoverable error). */
  error?(e: { code: ErrorCode; message: string }): void;
  /** A message entered the conversation: the greeting, a reply, or the user's transcript. */
  message?(m: { role: string; text: string; interrupted: boolean }): void;
}
