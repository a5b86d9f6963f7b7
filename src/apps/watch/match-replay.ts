// One competitive point between two players (match SPECs), recorded as the rally replay that the
// watch page and `watch --out` animate. A plays side seed % 2 (index 0 is the right-hand racket), so
// the page's successive seeds swap the sides as a match does.
import { TennisEnv } from "../../../binding/env.ts";
import { JOINT_ACTION } from "../../../binding/shapes.ts";
import { createPlayer, gatherSides, matchObservations, type PlayerSpec } from "../../lib/compete/match.ts";
import { withDefaultVariant } from "../../lib/env/vec-env.ts";
import { kMaxReplaySteps, kStepSeconds, replayFrame, type Replay, type ReplayFrame } from "../server/replay.ts";


/** The replay label of a match: "A vs B (A on the right)" or "(A on the left)". */
export function matchLabel(a: PlayerSpec, b: PlayerSpec, sideOfA: number): string {
  return `${a.label} vs ${b.label} (A on the ${sideOfA === 0 ? "right" : "left"})`;
}

/** Plays one point (at most maxSteps decisions) on env seed `seed`; scores are +1 / -1 per racket at the end. */
export async function playMatchReplay(a: PlayerSpec, b: PlayerSpec, options: { seed?: number; maxSteps?: number } = {}): Promise<Replay> {
  const seed = options.seed ?? 0;
  const maxSteps = options.maxSteps ?? kMaxReplaySteps;
  const sideOfA = Uint8Array.of(seed % 2);
  const env = new TennisEnv({ ...withDefaultVariant({ mode: "competitive", cleanReset: true, ...matchObservations([a, b]) }), numEnvs: 1, seed });
  const playerA = await createPlayer(a, 1, (seed * 2 + 1) >>> 0);
  const playerB = await createPlayer(b, 1, (seed * 2 + 2) >>> 0).catch((err) => {
    playerA.dispose();
    throw err;
  });
  try {
    const frames: ReplayFrame[] = [];
    const totals = [0, 0];
    const snapshot = () => frames.push(replayFrame(env.state(0), totals));
    const joint = new Float32Array(JOINT_ACTION);
    let obs = env.reset();
    snapshot();
    let ended: Replay["ended"] = "maxSteps";
    for (let step = 0; step < maxSteps; step++) {
      const result = env.step(gatherSides(playerA.act(env, obs), playerB.act(env, obs), sideOfA, joint));
      totals[0] += result.rewards[0];
      totals[1] += result.rewards[1];
      if (result.dones[0] !== 0) {
        // The env has served the next point already: end on the last in-play positions, with the result.
        const previous = frames[frames.length - 1];
        frames.push({ ball: [...previous.ball], rackets: [[...previous.rackets[0]], [...previous.rackets[1]]], score: [totals[0], totals[1]] });
        ended = "done";
        break;
      }
      snapshot();
      obs = result.obs;
    }
    return { checkpoint: matchLabel(a, b, sideOfA[0]), seed, dt: kStepSeconds, frames, score: Math.max(totals[0], totals[1]), ended };
  } finally {
    env.dispose();
    playerA.dispose();
    playerB.dispose();
  }
}
