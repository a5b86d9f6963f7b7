// Complete learner options for tests: the schema's defaults as the trainer maps them (maddpgOptions of
// the default config), with the test's own choices on top. The binding takes no defaults of its own.
import type { MaddpgOptions, NoiseOptions } from "../../binding/maddpg.ts";
import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { maddpgOptions } from "../../src/lib/trainer/maddpg-options.ts";

/** Learner options of the default config (impl libtorch, 1 thread) overridden by `overrides`. */
export function learnerOptions(overrides: Partial<Omit<MaddpgOptions, "noise">> & { noise?: Partial<NoiseOptions> } = {}): MaddpgOptions {
  const base = maddpgOptions(resolveConfig({ fileObject: { threads: 1, agent: { impl: "libtorch" } } }));
  const { noise, ...rest } = overrides;
  return { ...base, ...rest, noise: { ...base.noise, ...noise } };
}
