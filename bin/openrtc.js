#!/usr/bin/env node
// The `openrtc` command. Registers tsx so agent modules and our sources load as TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
