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

/** What the caller says in assets/audio/restaurant.wav, as the offline STT "hears" it. */
export const CALLER_SAYS = 'Hi, I would like to book a table for four people tonight at seven.';
/** What book_table returns for that request; the offline LLM's follow-up is keyed on it. */
export const BOOKED = 'Booked a table for 4 at 19:00, confirmation R-4-1900.';

const bookTable = llm.tool({
  description: 'Book a table. Ask for the party size and the time first.',
  parameters: z.object({
    partySize: z.number().int().min(1).max(20).describe('number of guests'),
    time: z
      .string()
      .regex(/^\d{2}:\d{2}$/)
      .describe('24-hour time, HH:MM'),
  }),
  execute: async ({ partySize, time }) =>
    `Booked a table for ${partySize} at ${time}, confirmation R-${partySize}-${time.replace(':', '')}.`,
});

class RestaurantHost extends voice.Agent {
  constructor() {
    super({
      instructions:
        'You answer the phone for Bella Vista, an Italian restaurant. Help callers book a table with ' +
        'book_table, then confirm the booking in one short sentence.',
      tools: { book_table: bookTable },
    });
  }
}

export default defineAgent({
  name: 'restaurant',
  greeting: { say: 'Thanks for calling Bella Vista. How can I help you?' },
  providers: real
    ? models
    : {
        // Offline TEST providers from agents-js, not real speech recognition or language models:
        // FakeSTT reports a fixed transcript, FakeLLM plays the replies scripted below.
        stt: () => new stt.testing.FakeSTT({ fakeTranscript: CALLER_SAYS }),
        llm: () =>
          new voice.testing.FakeLLM([
            {
              input: CALLER_SAYS,
              toolCalls: [{ name: 'book_table', args: { partySize: 4, time: '19:00' } }],
            },
            // Tool results reach the LLM JSON-encoded.
            { input: JSON.stringify(BOOKED), content: 'You are all set: a table for four at seven tonight.' },
          ]),
      },
  options: { providers: real ? 'livekit-inference' : 'offline-test', models },
  agent: RestaurantHost,
});
