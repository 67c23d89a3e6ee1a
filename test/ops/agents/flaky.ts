import { existsSync } from 'node:fs';
import { voice } from '@livekit/agents';
import { defineAgent } from '../../../src/runtime/agents/define.ts';

// Fails every session while the file named by OPENRTC_TEST_FAIL_FILE exists (the test creates and
// removes it): how test/ops/limits.test.ts makes an agent unhealthy and then healthy again.
export default defineAgent({
  name: 'flaky',
  agent: () => {
    const file = process.env.OPENRTC_TEST_FAIL_FILE;
    if (file && existsSync(file)) throw new Error(`flaky: told to fail (${file} exists)`);
    return new voice.Agent({ instructions: 'flaky' });
  },
});
