// Logger sinks: record/dump semantics, JSONL, TensorBoard records read back and CRC-checked, plot PNG.
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";

import { JsonlSink, Logger, type LogRecord, type LogSink } from "../../src/log/logger.ts";
import { plotScores } from "../../src/log/plot.ts";
import { crc32c, maskedCrc32c, TensorBoardSink } from "../../src/log/tensorboard.ts";

const dir = mkdtempSync(join(tmpdir(), "tt-log-"));

/** Reads TFRecords back, checking both CRCs of each. */
export function readTfRecords(path: string): Buffer[] {
  const data = readFileSync(path);
  const records: Buffer[] = [];
  for (let off = 0; off < data.length; ) {
    const header = data.subarray(off, off + 8);
    const length = Number(header.readBigUInt64LE());
    expect(data.readUInt32LE(off + 8)).to.equal(maskedCrc32c(header));
    const body = data.subarray(off + 12, off + 12 + length);
    expect(data.readUInt32LE(off + 12 + length)).to.equal(maskedCrc32c(body));
    records.push(body);
    off += 16 + length;
  }
  return records;
}

describe("Logger", () => {
  it("dumps recorded values and means to every sink, then clears", () => {
    const seen: [LogRecord, number][] = [];
    const sink: LogSink = { write: (r, s) => seen.push([r, s]) };
    const logger = new Logger([sink]);
    logger.record("rollout/score", 0.1);
    logger.recordMean("train/critic_loss", 1);
    logger.recordMean("train/critic_loss", 3);
    logger.dump(10);
    logger.dump(11);
    expect(seen).to.deep.equal([[{ "rollout/score": 0.1, "train/critic_loss": 2 }, 10]]);
  });

  it("JSONL sink writes one object per line with the step", () => {
    const path = join(dir, "m.jsonl");
    const logger = new Logger([new JsonlSink(path)]);
    logger.record("a/b", 1);
    logger.dump(1);
    logger.record("a/b", 2);
    logger.dump(2);
    const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).to.deep.equal([{ step: 1, "a/b": 1 }, { step: 2, "a/b": 2 }]);
  });
});

describe("TensorBoard sink", () => {
  it("crc32c matches the standard check value", () => {
    expect(crc32c(Buffer.from("123456789"))).to.equal(0xe3069283);
  });

  it("writes a file-version event then one event per dump with the scalar tags", () => {
    const sink = new TensorBoardSink(join(dir, "tb"));
    sink.write({ "rollout/score": 0.25, note: "x" }, 7);
    const records = readTfRecords(sink.path);
    expect(records).to.have.length(2);
    expect(records[0].toString("latin1")).to.contain("brain.Event:2");
    const body = records[1];
    expect(body.toString("latin1")).to.contain("rollout/score");
    expect(body.toString("latin1")).not.to.contain("note");
    // simple_value (field 2, fixed32) follows the tag inside the Summary.Value
    const at = body.indexOf(Buffer.from("rollout/score")) + "rollout/score".length;
    expect(body[at]).to.equal((2 << 3) | 5);
    expect(body.readFloatLE(at + 1)).to.equal(0.25);
  });
});

describe("plotScores", () => {
  it("draws dots, an average line and the target into a PNG", () => {
    const scores = Array.from({ length: 50 }, (_, i) => i / 50);
    const averages = scores.map((_, i) => scores.slice(Math.max(0, i - 9), i + 1).reduce((a, b) => a + b) / Math.min(10, i + 1));
    const png = PNG.sync.read(plotScores(scores, averages, 0.5, join(dir, "scores.png")));
    expect(png.width).to.equal(800);
    const colors = new Set<string>();
    for (let i = 0; i < png.data.length; i += 4) colors.add(`${png.data[i]},${png.data[i + 1]},${png.data[i + 2]}`);
    expect(colors).to.include("90,140,220").and.to.include("230,120,0").and.to.include("200,40,40");
  });
});
