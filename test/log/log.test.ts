// Logger sinks: record/dump semantics, JSONL, TensorBoard records read back and CRC-checked.
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { float32Shortest, JsonlSink, Logger, type LogRecord, type LogSink } from "../../src/lib/log/logger.ts";
import { crc32c, maskedCrc32c, TensorBoardSink } from "../../src/lib/log/tensorboard.ts";

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

describe("metrics.jsonl numbers", () => {
  it("fractions are written at float32 precision, shortest form; integers and strings as they are", () => {
    expect(float32Shortest(1.4000000208616257)).to.equal(1.4);
    expect(float32Shortest(Math.fround(0.1) * 3)).to.equal(0.3);
    expect(float32Shortest(-0.009999999776482582)).to.equal(-0.01);
    expect(float32Shortest(1.2345e-7)).to.equal(1.2345e-7);
    expect(float32Shortest(2 ** 40 + 1)).to.equal(2 ** 40 + 1);
    for (const value of [Math.PI, 1 / 3, 2.55, 123456.789, 6.9e-18]) {
      const short = float32Shortest(value);
      expect(Math.fround(short), String(value)).to.equal(Math.fround(value));
      expect(String(short).replace(/^-|\.|e.*$/g, "").replace(/^0+/, "").length, String(value)).to.be.at.most(9);
    }
    const path = join(dir, "float32.jsonl");
    new JsonlSink(path).write({ "rollout/score": 1.4000000208616257, "time/env_steps": 123456789, note: "x" }, 3);
    expect(readFileSync(path, "utf8")).to.equal('{"step":3,"rollout/score":1.4,"time/env_steps":123456789,"note":"x"}\n');
  });
});
