import { llm, stt, voice } from '@livekit/agents';
import { defineAgent } from 'openrtc';
import { z } from 'zod';

/** LiveKit inference models this agent uses with real keys (set OPENRTC_REAL_PROVIDERS=1). */
const models = {
  stt: 'deepgram/nova-3:en',
  llm: 'openai/gpt-4.1-mini',
  tts: 'cartesia/sonic-3:a167e0f3-df7e-4d52-a9c3-f949145efdab',
} as const;
const real = process.env.OPENRTC_REAL_PROVIDERS === '1';

/** What the caller says in assets/audio/dental.wav, as the offline STT "hears" it. */
export const CALLER_SAYS = 'Hello, I need a dental appointment for a cleaning.';
/** What book_appointment returns for that request; the offline LLM's follow-up is keyed on it. */
export const BOOKED = 'Booked a cleaning on Tuesday at 09:30 with Dr. Lee.';
/**
 * The greeting is generated from instructions. Its last line starts with `instructions:`, which is
 * how FakeLLM recognizes instruction-driven replies; a real LLM reads it as one more instruction.
 */
export const GREETING_INSTRUCTIONS =
  'Greet the caller on behalf of Bright Smile Dental.\ninstructions: offer to book an appointment.';

const bookAppointment = llm.tool({
  description: 'Book a dental appointment.',
  parameters: z.object({
    reason: z.enum(['cleaning', 'checkup', 'pain', 'other']),
    day: z.string().describe('weekday, e.g. Tuesday'),
    time: z
      .string()
      .regex(/^\d{2}:\d{2}$/)
      .describe('24-hour time, HH:MM'),
  }),
  execute: async ({ reason, day, time }) => `Booked a ${reason} on ${day} at ${time} with Dr. Lee.`,
});

class DentalReceptionist extends voice.Agent {
  constructor() {
    super({
      instructions:
        'You are the receptionist of Bright Smile Dental. Book appointments with book_appointment; ' +
        'the first free slot is Tuesday at 09:30.',
      tools: { book_appointment: bookAppointment },
    });
  }
}

export default defineAgent({
  name: 'dental',
  greeting: { instructions: GREETING_INSTRUCTIONS },
  providers: real
    ? models
    : {
        // Offline TEST providers from agents-js, not real speech recognition or language models:
        // FakeSTT reports a fixed transcript, FakeLLM plays the replies scripted below.
        stt: () => new stt.testing.FakeSTT({ fakeTranscript: CALLER_SAYS }),
        llm: () =>
          new voice.testing.FakeLLM([
            {
              input: 'instructions: offer to book an appointment.',
              content: 'Bright Smile Dental, good morning! Would you like to book an appointment?',
            },
            {
              input: CALLER_SAYS,
              toolCalls: [
                { name: 'book_appointment', args: { reason: 'cleaning', day: 'Tuesday', time: '09:30' } },
              ],
            },
            // Tool results reach the LLM JSON-encoded.
            {
              input: JSON.stringify(BOOKED),
              content: 'Done: a cleaning on Tuesday at half past nine with Dr. Lee.',
            },
          ]),
      },
  options: { providers: real ? 'livekit-inference' : 'offline-test', models },
  agent: DentalReceptionist,
});
