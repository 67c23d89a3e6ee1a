import { z } from 'zod';
import { MessageId } from './common.ts';

/** Agent names route jobs and prefix room names, so they stay simple. */
export const AgentName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
    'must start with a letter or digit; then letters, digits, _ or -',
  );

/** Per-phase limits of a session. Every field is optional: the worker fills defaults. */
export const SessionLimits = z.object({
  prewarmMs: z.number().int().positive().optional(),
  connectMs: z.number().int().positive().optional(),
  connectAttempts: z.number().int().positive().max(20).optional(),
  connectBackoffMs: z.number().int().nonnegative().optional(),
  greetMs: z.number().int().positive().optional(),
  closeMs: z.number().int().positive().optional(),
  greetingRequired: z.boolean().optional(),
});
export type SessionLimits = z.infer<typeof SessionLimits>;

export const Greeting = z.union([
  z.object({ say: z.string().min(1).max(4096) }),
  z.object({ instructions: z.string().min(1).max(4096) }),
]);
export type Greeting = z.infer<typeof Greeting>;

/** Provider model strings (LiveKit inference, e.g. 'openai/gpt-4.1-mini'): data, never code. */
export const ProviderDefaults = z.object({
  stt: z.string().min(1).max(256).optional(),
  llm: z.string().min(1).max(256).optional(),
  tts: z.string().min(1).max(256).optional(),
});
export type ProviderDefaults = z.infer<typeof ProviderDefaults>;

/**
 * What the supervisor's registry holds for an agent, and all that crosses to a worker:
 * a name, the module path the worker imports, and plain options. Never code.
 */
export const AgentSpec = z.object({
  name: AgentName,
  module: z.string().min(1).max(4096),
  greeting: Greeting.optional(),
  limits: SessionLimits.optional(),
  /** Pool-default providers (LiveKit inference model strings) for what the module leaves unset. */
  providers: ProviderDefaults.optional(),
  /** Free-form plain options for the agent module (provider names, settings). */
  options: z.record(z.string(), z.json()).optional(),
});
export type AgentSpec = z.infer<typeof AgentSpec>;

/** The job being served: LiveKit's job, or a dispatch from any NATS client. */
export const JobDescriptor = z.object({
  id: MessageId,
  room: z.string().min(1).max(256),
  metadata: z.string().max(65_536).optional(),
  roomMetadata: z.string().max(65_536).optional(),
});
export type JobDescriptor = z.infer<typeof JobDescriptor>;

export const LocalAudioInput = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('wav'),
    path: z.string().min(1).max(4096),
    /** Pace frames at real time (default true); false feeds as fast as the VAD takes them. */
    realtime: z.boolean().optional(),
    /** Play the file this many times (default 1). */
    loops: z.number().int().positive().max(10_000).optional(),
  }),
  z.object({ kind: z.literal('silence'), durationMs: z.number().int().nonnegative().max(86_400_000) }),
]);
export type LocalAudioInput = z.infer<typeof LocalAudioInput>;

export const LocalAudioOutput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('wav'), path: z.string().min(1).max(4096) }),
  z.object({ kind: z.literal('discard') }),
]);
export type LocalAudioOutput = z.infer<typeof LocalAudioOutput>;

export const LocalTransport = z.object({
  kind: z.literal('local'),
  input: LocalAudioInput,
  output: LocalAudioOutput,
});

export const LiveKitTransport = z.object({
  kind: z.literal('livekit'),
  url: z.string().regex(/^(wss?|https?):\/\/.+/, 'must be a ws://, wss://, http:// or https:// URL'),
  token: z.string().min(1).max(16_384),
  /** LiveKit's `Job` as protobuf JSON (`Job.toJson()`). */
  job: z.record(z.string(), z.json()),
});

export const Transport = z.discriminatedUnion('kind', [LocalTransport, LiveKitTransport]);
export type Transport = z.infer<typeof Transport>;
