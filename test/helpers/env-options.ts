// Complete built-in env options for tests: one env, seed 0 and the schema's `env.*` variant (the
// faithful Udacity build), with the test's own choices on top. The binding takes no defaults of its own.
import type { TennisEnvOptions } from "../../binding/env.ts";
import { withDefaultVariant } from "../../src/lib/env/vec-env.ts";

export function envOptions(overrides: Partial<TennisEnvOptions> = {}): TennisEnvOptions {
  return { numEnvs: 1, seed: 0, ...withDefaultVariant(), ...overrides };
}
