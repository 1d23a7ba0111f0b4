import * as xpu from '../src/index.js';

/**
 * vitest setupFiles: every test file runs after the GPU is open, as a program that uses xpu does
 * after `await xpu.ready()` (the runtime opens nothing at import). Tests pick their devices
 * explicitly (helpers.testDevices), so lavapipe, which is never the default device, is still tested.
 */
await xpu.ready();
