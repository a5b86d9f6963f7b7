// Complete replay-buffer options for tests: the schema's `buffer` defaults and seed 0, with the test's
// own choices on top. The binding takes no defaults of its own for these.
import type { ReplayBufferOptions } from "../../binding/buffer.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";

export function bufferOptions(overrides: Partial<ReplayBufferOptions> = {}): ReplayBufferOptions {
  return { ...resolveConfig().buffer, seed: 0, ...overrides };
}
