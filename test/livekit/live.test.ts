import { randomBytes } from 'node:crypto';
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionUpdate } from '../../src/runtime/supervisor/service.ts';
import { readWavMono16k } from '../../src/runtime/voice/wav.ts';
import { useNatsServer } from '../support/nats.ts';
import { AUDIO, EXAMPLE_AGENTS, readyWorkers, startTestPool, type TestPool } from '../support/pool.ts';
import { waitFor } from '../support/wait.ts';

const { LIVEKIT_URL: url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret } = process.env;
const live = Boolean(url && apiKey && apiSecret);
const HOW =
  'set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET to run it, e.g. against `livekit-server --dev`: ' +
  'LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret npx vitest run test/livekit/live.test.ts ' +
  '(docs/livekit.md)';
if (!live) console.info(`skipping the live LiveKit end-to-end test: ${HOW}`);

const nats = useNatsServer();

describe.skipIf(!live)(`live LiveKit end to end (${HOW})`, () => {
  let t: TestPool;
  const updates: SessionUpdate[] = [];
  beforeAll(async () => {
    t = await startTestPool(nats.url, {
      agentsDir: EXAMPLE_AGENTS,
      workers: 1,
      livekit: { url: url as string, apiKey: apiKey as string, apiSecret: apiSecret as string },
    });
    t.pool.service.onSession((e) => updates.push(e));
    await readyWorkers(t.client, 1);
    await waitFor('registered with LiveKit', () => t.pool.livekit?.workerId, 15_000);
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('a caller joins a restaurant-* room: the agent joins, greets into the room, hears speech, and closes when the caller leaves', async () => {
    const roomName = `restaurant-${randomBytes(4).toString('hex')}`;
    const token = new AccessToken(apiKey, apiSecret, { identity: 'caller' });
    token.addGrant({ roomJoin: true, room: roomName, canPublish: true, canSubscribe: true });
    const caller = new Room();
    const transcripts: { from: string; text: string }[] = [];
    caller.registerTextStreamHandler('lk.transcription', async (reader, from) => {
      transcripts.push({ from: from.identity, text: await reader.readAll() });
    });
    await caller.connect(url as string, await token.toJwt(), { autoSubscribe: true, dynacast: false });
    try {
      // Automatic dispatch: LiveKit offers the new room's job; the room prefix routes it to `restaurant`.
      const placed = await waitFor(
        'a session for the room',
        () =>
          Object.values(t.pool.service.actor.getSnapshot().context.sessions).find((s) => s.room === roomName),
        30_000,
      );
      expect(placed.agent).toBe('restaurant');
      await waitFor(
        'active',
        () => updates.find((u) => u.session === placed.session && u.state === 'active'),
        30_000,
      );
      const greeting = await waitFor(
        'the greeting in the room',
        () => transcripts.find((x) => x.from.startsWith('agent-') && /Bella Vista/.test(x.text)),
        30_000,
      );
      expect(greeting.text).toMatch(/Thanks for calling Bella Vista/);

      // The caller speaks: the bundled recording, published as a microphone track in real time.
      const source = new AudioSource(16_000, 1);
      const track = LocalAudioTrack.createAudioTrack('mic', source);
      await caller.localParticipant?.publishTrack(
        track,
        new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
      );
      const samples = await readWavMono16k(AUDIO.restaurant);
      for (let at = 0; at + 160 <= samples.length; at += 160) {
        await source.captureFrame(new AudioFrame(samples.slice(at, at + 160), 16_000, 1, 160));
      }
      await waitFor(
        'VAD speech events from the room audio',
        () => (t.pool.service.ledger.get(placed.session)?.speech.start ?? 0) > 0,
        20_000,
      );
      await caller.disconnect();
      await waitFor(
        'closed',
        () => updates.find((u) => u.session === placed.session && u.state === 'closed'),
        20_000,
      );
    } finally {
      if (caller.isConnected) await caller.disconnect();
    }
  }, 120_000);
});
