// A TensorBoard event-file sink: TFRecords (length, masked CRC32C, Event proto) written without any
// TensorFlow dependency. Scalars go by env step (as CleanRL and Stable-Baselines3 log them), the
// episode-indexed ones again by episode under their own `_by_episode` tags; the resolved config as a text
// summary; the HPARAMS plugin's experiment and session start/end with the final metrics. The encoder is
// written by hand, so the tests' protobufjs decoder (test/log/tensorboard.proto) reads the files independently.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import type { LogRecord, LogSink } from "./logger.ts";

const kCrc32cTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), as TFRecord uses. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = kCrc32cTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protobuf wire format, only what the Event and Summary messages need ----------------------
/** Appends protobuf fields to a byte list; nested messages are written by another writer. */
class ProtoWriter {
  readonly bytes: number[] = [];

  #key(field: number, wireType: number): void {
    this.#varint((field << 3) | wireType);
  }

  #varint(value: number | bigint): void {
    let v = BigInt(value);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.bytes.push(byte);
    } while (v > 0n);
  }

  uint(field: number, value: number | bigint): this {
    this.#key(field, 0);
    this.#varint(value);
    return this;
  }

  double(field: number, value: number): this {
    const buf = Buffer.alloc(8);
    buf.writeDoubleLE(value);
    this.#key(field, 1);
    this.bytes.push(...buf);
    return this;
  }

  float(field: number, value: number): this {
    const buf = Buffer.alloc(4);
    buf.writeFloatLE(value);
    this.#key(field, 5);
    this.bytes.push(...buf);
    return this;
  }

  bytesField(field: number, data: Uint8Array | readonly number[]): this {
    this.#key(field, 2);
    this.#varint(data.length);
    this.bytes.push(...data);
    return this;
  }

  string(field: number, text: string): this {
    return this.bytesField(field, Buffer.from(text, "utf8"));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytesField(field, inner.bytes);
  }
}

/** tensorflow.DataType values used here. */
const kDtFloat = 1;
const kDtString = 7;

/** One Summary.Value: a scalar, a text (the text plugin's string tensor) or a plugin's metadata-only value. */
export type SummaryValue =
  | { tag: string; scalar: number }
  | { tag: string; text: string }
  | { tag: string; plugin: string; content: Uint8Array };

/** SummaryMetadata{plugin_data=1{plugin_name=1, content=2}}. */
function pluginMetadata(plugin: string, content: Uint8Array | readonly number[] = []): ProtoWriter {
  return new ProtoWriter().message(1, new ProtoWriter().string(1, plugin).bytesField(2, content));
}

/** Summary.Value{tag=1, simple_value=2 | metadata=9 + tensor=8}. */
function summaryValue(value: SummaryValue): ProtoWriter {
  const out = new ProtoWriter().string(1, value.tag);
  if ("scalar" in value) return out.float(2, value.scalar);
  if ("text" in value) {
    // TensorProto{dtype=1, tensor_shape=2{dim=2{size=1}}, string_val=8}: a string tensor of shape [1].
    const shape = new ProtoWriter().message(2, new ProtoWriter().uint(1, 1));
    return out.message(9, pluginMetadata("text")).message(8, new ProtoWriter().uint(1, kDtString).message(2, shape).string(8, value.text));
  }
  // The plugin reads only the metadata's content; the tensor is a scalar 0, as the hparams plugin's own writer puts there.
  return out.message(9, pluginMetadata(value.plugin, value.content)).message(8, new ProtoWriter().uint(1, kDtFloat).message(2, new ProtoWriter()).float(5, 0));
}

/** Event{wall_time=1, step=2, file_version=3 | summary=5{value=1...}}. */
export function encodeEvent(wallTime: number, step: number, body: { fileVersion: string } | { values: SummaryValue[] }): Uint8Array {
  const event = new ProtoWriter().double(1, wallTime).uint(2, step);
  if ("fileVersion" in body) event.string(3, body.fileVersion);
  else {
    const summary = new ProtoWriter();
    for (const value of body.values) summary.message(1, summaryValue(value));
    event.message(5, summary);
  }
  return Uint8Array.from(event.bytes);
}

/** One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(BigInt(data.length));
  const lengthCrc = Buffer.alloc(4);
  lengthCrc.writeUInt32LE(maskedCrc32c(header));
  const dataCrc = Buffer.alloc(4);
  dataCrc.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([header, lengthCrc, Buffer.from(data), dataCrc]);
}

// ---- the HPARAMS plugin (tensorboard/plugins/hparams: plugin_data.proto, api.proto) ------------
/** A hyperparameter's value: google.protobuf.Value{number_value=2 | string_value=3 | bool_value=4}. */
export type HParamValue = number | string | boolean;

function protoValue(value: HParamValue): ProtoWriter {
  if (typeof value === "number") return new ProtoWriter().double(2, value);
  if (typeof value === "string") return new ProtoWriter().string(3, value);
  return new ProtoWriter().uint(4, value ? 1 : 0);
}

/** HParamsPluginData{version=1, experiment=2 | session_start_info=3 | session_end_info=4}. */
function hparamsPluginData(field: 2 | 3 | 4, body: ProtoWriter): Uint8Array {
  return Uint8Array.from(new ProtoWriter().uint(1, 0).message(field, body).bytes);
}

/** api.proto DataType of a hyperparameter's value. */
function hparamType(value: HParamValue): number {
  return typeof value === "number" ? 3 : typeof value === "boolean" ? 2 : 1;
}

/** Experiment{hparam_infos=4{name=1, type=4}, metric_infos=5{name=1{tag=2}}}: what the HPARAMS tab lists. */
function experiment(hparams: Record<string, HParamValue>, metrics: readonly string[]): ProtoWriter {
  const out = new ProtoWriter();
  for (const [name, value] of Object.entries(hparams)) out.message(4, new ProtoWriter().string(1, name).uint(4, hparamType(value)));
  for (const tag of metrics) out.message(5, new ProtoWriter().message(1, new ProtoWriter().string(2, tag)));
  return out;
}

/** SessionStartInfo{hparams=1 map<string, Value>}. */
function sessionStart(hparams: Record<string, HParamValue>): ProtoWriter {
  const out = new ProtoWriter();
  for (const [name, value] of Object.entries(hparams)) out.message(1, new ProtoWriter().string(1, name).message(2, protoValue(value)));
  return out;
}

/** api.proto Status of a finished session (STATUS_SUCCESS or STATUS_FAILURE). */
export type SessionStatus = "success" | "failure";

/** The resolved config as hyperparameters: dotted keys of every leaf, lists as JSON text. */
export function flattenHParams(config: object, prefix = ""): Record<string, HParamValue> {
  const out: Record<string, HParamValue> = {};
  for (const [key, value] of Object.entries(config)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) Object.assign(out, flattenHParams(value, name));
    else if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") out[name] = value;
    else out[name] = JSON.stringify(value);
  }
  return out;
}

/** A markdown table of the hyperparameters, for TensorBoard's TEXT tab. */
export function hparamsMarkdown(hparams: Record<string, HParamValue>): string {
  const rows = Object.entries(hparams).map(([name, value]) => `| ${name} | ${String(value).replace(/\|/g, "\\|")} |`);
  return ["| option | value |", "|---|---|", ...rows].join("\n");
}

export interface TensorBoardOptions {
  /** Record key whose value is the step of the record's scalars (e.g. "time/env_steps"); the dump's
   * step is used when the record lacks it. */
  stepKey?: string;
  /** Tags also written at the dump's step (the episode) as `${tag}_by_episode`. */
  episodeTags?: readonly string[];
  /** Wall seconds the run has trained so far (over all its resumes): with it, every record with a step
   * key also writes `time/sps`, the run's env steps per second so far (CleanRL's SPS). */
  elapsed?: () => number;
}

/** The env-steps-per-second tag (CleanRL's charts/SPS, Stable-Baselines3's time/fps). */
export const kSpsTag = "time/sps";
/** Seconds below which the elapsed time is not measured (a rate over 0 s). */
const kMinElapsed = 1e-3;

/** Writes numeric values of each dumped record as TensorBoard scalars, plus text and hparams summaries. */
export class TensorBoardSink implements LogSink {
  readonly path: string;
  /** Whether this sink started the event file (false: it appends to a resumed run's file). */
  readonly created: boolean;
  readonly #stepKey: string | undefined;
  readonly #episodeTags: readonly string[];
  readonly #elapsed: (() => number) | undefined;

  /** Starts a new event file in `dir`, or appends to the existing event file `continuePath` (a resumed run). */
  constructor(dir: string, continuePath?: string, options: TensorBoardOptions = {}) {
    mkdirSync(dir, { recursive: true });
    this.#stepKey = options.stepKey;
    this.#episodeTags = options.episodeTags ?? [];
    this.#elapsed = options.elapsed;
    if (continuePath !== undefined && existsSync(continuePath)) {
      this.path = continuePath;
      this.created = false;
      return;
    }
    const now = Date.now() / 1000;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    this.created = true;
    writeFileSync(this.path, tfRecord(encodeEvent(now, 0, { fileVersion: "brain.Event:2" })));
  }

  /** The record's numbers at its env step, the episode-indexed tags again at the episode, and `time/sps`
   * in an event of its own: the one event whose value depends on the wall clock (its size does not, so a
   * resumed run's event file has the same length as an uninterrupted one's). */
  write(record: LogRecord, step: number): void {
    const scalars = Object.entries(record).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]));
    if (scalars.length === 0) return;
    const wall = Date.now() / 1000;
    const stepValue = this.#stepKey === undefined ? undefined : record[this.#stepKey];
    const envStep = typeof stepValue === "number" ? stepValue : step;
    this.#append(envStep, scalars.map(([tag, scalar]) => ({ tag, scalar })), wall);
    const byEpisode = scalars.filter(([tag]) => this.#episodeTags.includes(tag)).map(([tag, scalar]) => ({ tag: `${tag}_by_episode`, scalar }));
    if (byEpisode.length > 0) this.#append(step, byEpisode, wall);
    if (this.#elapsed !== undefined && typeof stepValue === "number") {
      this.#append(envStep, [{ tag: kSpsTag, scalar: envStep / Math.max(this.#elapsed(), kMinElapsed) }], wall);
    }
  }

  /** A text summary (markdown) under `${tag}/text_summary`, as torch's add_text names it. */
  writeText(tag: string, markdown: string, step = 0): void {
    this.#append(step, [{ tag: `${tag}/text_summary`, text: markdown }]);
  }

  /** The HPARAMS plugin's experiment (hyperparameters and the metric tags it compares) and session start.
   * Start and end times are left out (the tab does not need them), so the events depend only on the run. */
  writeSessionStart(hparams: Record<string, HParamValue>, metrics: readonly string[]): void {
    this.#append(0, [
      { tag: "_hparams_/experiment", plugin: "hparams", content: hparamsPluginData(2, experiment(hparams, metrics)) },
      { tag: "_hparams_/session_start_info", plugin: "hparams", content: hparamsPluginData(3, sessionStart(hparams)) },
    ]);
  }

  /** The final metrics as scalars at `step`, then the session end with its status. */
  writeSessionEnd(metrics: Record<string, number>, step: number, status: SessionStatus): void {
    const scalars = Object.entries(metrics).filter(([, value]) => Number.isFinite(value)).map(([tag, scalar]) => ({ tag, scalar }));
    if (scalars.length > 0) this.#append(step, scalars);
    const end = new ProtoWriter().uint(1, status === "success" ? 1 : 2);
    this.#append(step, [{ tag: "_hparams_/session_end_info", plugin: "hparams", content: hparamsPluginData(4, end) }]);
  }

  #append(step: number, values: SummaryValue[], wall = Date.now() / 1000): void {
    appendFileSync(this.path, tfRecord(encodeEvent(wall, step, { values })));
  }
}
