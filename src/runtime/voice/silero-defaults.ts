/**
 * @livekit/agents-plugin-silero 1.9's VAD options (its `defaultVADOptions` is not exported), in one
 * place: the plugin VAD we share (vad.ts) and our batched VAD (batched-vad.ts) both start from them.
 * test/runtime/voice/silero-defaults.test.ts checks them against what `silero.VAD.load()` uses.
 */
export const SILERO_DEFAULTS = {
  /** Speech above the threshold for this long (ms) starts an utterance. */
  minSpeechDuration: 50,
  /** Silence for longer than this (ms) ends it. */
  minSilenceDuration: 550,
  /** Audio kept before the start of speech, in ms (in START/END_OF_SPEECH frames). */
  prefixPaddingDuration: 500,
  /** The longest utterance kept for END_OF_SPEECH frames, in ms. */
  maxBufferedSpeech: 60_000,
  /** A window whose smoothed probability is above this is speech. */
  activationThreshold: 0.5,
  /** The model's rate: 16000 (512-sample windows) or 8000 (256). */
  sampleRate: 16_000,
  forceCPU: true,
} as const satisfies {
  minSpeechDuration: number;
  minSilenceDuration: number;
  prefixPaddingDuration: number;
  maxBufferedSpeech: number;
  activationThreshold: number;
  sampleRate: 8000 | 16000;
  forceCPU: boolean;
};
