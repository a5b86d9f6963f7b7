// TensorBoard event files read back with an independent decoder: protobufjs over our own .proto of
// TensorBoard's Event/Summary messages (test/log/tensorboard.proto), every record's CRCs checked.
import { expect } from "chai";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

import { resolveConfig } from "../../src/lib/config/resolve.ts";
import { TensorBoardSink } from "../../src/lib/log/tensorboard.ts";
import { train } from "../../src/lib/trainer/train.ts";
import { readTfRecords } from "./log.test.ts";

const root = protobuf.loadSync(join(dirname(fileURLToPath(import.meta.url)), "tensorboard.proto"));
const Event = root.lookupType("tt.tensorboard.Event");
const PluginData = root.lookupType("tt.tensorboard.HParamsPluginData");

interface DecodedValue {
  tag: string;
  simpleValue?: number;
  metadata?: { pluginData?: { pluginName: string; content: Uint8Array } };
  tensor?: { dtype: number; stringVal: Uint8Array[] };
}
interface DecodedEvent {
  step: number;
  fileVersion?: string;
  summary?: { value: DecodedValue[] };
}

/** Every event of an event file, decoded by protobufjs. */
function readEvents(path: string): DecodedEvent[] {
  return readTfRecords(path).map((record) => Event.toObject(Event.decode(record), { longs: Number, defaults: false }) as DecodedEvent);
}

/** [step, value] of every scalar with `tag`. */
function scalars(events: DecodedEvent[], tag: string): [number, number][] {
  return events.flatMap((e) => (e.summary?.value ?? []).filter((v) => v.tag === tag && v.simpleValue !== undefined).map((v): [number, number] => [e.step, v.simpleValue!]));
}

/** The decoded HParamsPluginData of the value tagged `tag`. */
function hparamsData(events: DecodedEvent[], tag: string): Record<string, any> {
  const value = events.flatMap((e) => e.summary?.value ?? []).find((v) => v.tag === tag);
  expect(value, tag).to.not.equal(undefined);
  expect(value!.metadata!.pluginData!.pluginName).to.equal("hparams");
  return PluginData.toObject(PluginData.decode(value!.metadata!.pluginData!.content), { defaults: false });
}

describe("TensorBoard event files, decoded by protobufjs", function () {
  this.timeout(180_000);

  it("a sink's scalars go by env step; episode tags again by episode; time/sps in events of its own", () => {
    let elapsed = 2;
    const options = { stepKey: "time/env_steps", episodeTags: ["rollout/score"], elapsed: () => elapsed };
    const sink = new TensorBoardSink(mkdtempSync(join(tmpdir(), "tt-tb-")), undefined, options);
    sink.write({ "rollout/score": 0.1, "time/env_steps": 15, "train/q_mean": 0.5 }, 1);
    elapsed = 4;
    sink.write({ "rollout/score": 0.2, "time/env_steps": 40 }, 2);
    const events = readEvents(sink.path);
    expect(events[0].fileVersion).to.equal("brain.Event:2");
    expect(scalars(events, "rollout/score")).to.deep.equal([[15, Math.fround(0.1)], [40, Math.fround(0.2)]]);
    expect(scalars(events, "rollout/score_by_episode")).to.deep.equal([[1, Math.fround(0.1)], [2, Math.fround(0.2)]]);
    expect(scalars(events, "train/q_mean")).to.deep.equal([[15, 0.5]]);
    // The run's env steps per second so far, each in an event of its own.
    expect(scalars(events, "time/sps")).to.deep.equal([[15, 7.5], [40, 10]]);
    const sps = events.filter((e) => e.summary?.value.some((v) => v.tag === "time/sps"));
    expect(sps.map((e) => e.summary!.value.length)).to.deep.equal([1, 1]);
  });

  it("a run's event file: env-step steps, the config as text, the HPARAMS session with the final metrics", async () => {
    const runsDir = mkdtempSync(join(tmpdir(), "tt-tb-run-"));
    const config = resolveConfig({
      fileObject: {
        threads: 1,
        train: { episodes: 8, warmupSteps: 60, batchSize: 32, selectEvery: 4, selectEpisodes: 2, evalEpisodes: 3 },
        buffer: { capacity: 5000 },
        agent: { hidden: [32, 32] },
        log: { runsDir, tensorboard: true, progress: false },
      },
    });
    const summary = await train(config, { quiet: true });
    const [file] = readdirSync(join(summary.run_dir, "tb"));
    const events = readEvents(join(summary.run_dir, "tb", file));

    // Scalars by env step: rollout/score's steps are the env steps logged with it, increasing, past the episode count.
    const scores = scalars(events, "rollout/score");
    expect(scores).to.have.length(8);
    expect(scores.map(([step]) => step)).to.deep.equal(scalars(events, "time/env_steps").map(([, steps]) => steps));
    expect(scores.at(-1)![0]).to.equal(summary.env_steps);
    expect(scalars(events, "rollout/score_by_episode").map(([step]) => step)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);

    // The resolved config as a text summary (the text plugin's string tensor).
    const text = events.flatMap((e) => e.summary?.value ?? []).find((v) => v.tag === "config/text_summary")!;
    expect(text.metadata!.pluginData!.pluginName).to.equal("text");
    const markdown = Buffer.from(text.tensor!.stringVal[0]).toString("utf8");
    expect(markdown).to.contain("| train.batchSize | 32 |").and.contain("| agent.hidden | [32,32] |").and.not.contain("runsDir");

    // HPARAMS: experiment, session start with the config's values, the final metrics, the session end.
    const experiment = hparamsData(events, "_hparams_/experiment").experiment;
    expect(experiment.hparamInfos).to.deep.include({ name: "train.batchSize", type: 3 });
    expect(experiment.metricInfos.map((m: any) => m.name.tag)).to.include.members(["final/eval_mean", "final/check_score", "final/solved"]);
    const start = hparamsData(events, "_hparams_/session_start_info").sessionStartInfo;
    expect(start.hparams["train.batchSize"]).to.deep.equal({ numberValue: 32 });
    expect(start.hparams["noise.kind"]).to.deep.equal({ stringValue: config.noise.kind });
    expect(start.hparams["agent.sharedParameters"]).to.have.key("boolValue");
    expect(hparamsData(events, "_hparams_/session_end_info").sessionEndInfo).to.deep.equal({ status: 1 });
    expect(scalars(events, "final/eval_mean")).to.deep.equal([[summary.env_steps, Math.fround(summary.final_eval!.mean)]]);
    expect(scalars(events, "final/check_score")).to.deep.equal([[summary.env_steps, Math.fround(summary.selection!.check_score)]]);
    expect(scalars(events, "final/check_episodes")).to.deep.equal([[summary.env_steps, summary.selection!.check_episodes]]);
    expect(scalars(events, "final/solved")).to.deep.equal([[summary.env_steps, 0]]);
  });
});
