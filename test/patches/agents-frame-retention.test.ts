/**
 * patches/@livekit+agents+1.9.0.patch (applied by patch-package on install) fixes
 * livekit/agents-js#2046 (upstream PR #2047, not in any release yet): `readStream()` raced every read
 * against one long-lived abort promise, so every chunk it read (every input audio frame of a call,
 * through AudioRecognition's STT input) stayed reachable until the call ended. This test fails when
 * the patch stops applying (an upgrade, a changed file): then check whether the new version carries
 * the fix, and drop or redo the patch.
 */
import { ReadableStream } from 'node:stream/web';
import v8 from 'node:v8';
import vm from 'node:vm';
import { readStream } from '@livekit/agents';
import { describe, expect, it } from 'vitest';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('agents-js readStream keeps no chunk it has handed on (livekit/agents-js#2046 patch)', () => {
  it('chunks read through readStream with a live signal can be collected before the signal aborts', async () => {
    const N = 200;
    const refs: WeakRef<object>[] = [];
    let i = 0;
    const stream = new ReadableStream<{ payload: Uint8Array }>({
      pull(controller) {
        if (i === N) return controller.close();
        const chunk = { payload: new Uint8Array(1024) };
        refs.push(new WeakRef(chunk));
        i += 1;
        controller.enqueue(chunk);
      },
    });
    const controller = new AbortController();
    let read = 0;
    for await (const _chunk of readStream(stream, controller.signal)) {
      read += 1;
      if (read === N) break;
    }
    expect(read).toBe(N);
    // Let pending reactions settle, then collect: the signal is still live (a call in progress).
    await new Promise((r) => setTimeout(r, 10));
    gc();
    await new Promise((r) => setTimeout(r, 10));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    // Unpatched, every chunk stays reachable from the abort promise's reactions (alive = N).
    expect(alive).toBeLessThan(N / 10);
    controller.abort();
  });
});
