// A TensorBoard event-file sink: scalar summaries as TFRecords (length, masked CRC32C, Event proto),
// written without any TensorFlow dependency. Readable by TensorBoard's event loader.
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

// ---- minimal protobuf encoding (only what Event/Summary need) ------------------------------
function varint(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

function lengthDelimited(field: number, bytes: Uint8Array | number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

function doubleField(field: number, value: number): number[] {
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(value);
  return [(field << 3) | 1, ...buf];
}

function floatField(field: number, value: number): number[] {
  const buf = Buffer.alloc(4);
  buf.writeFloatLE(value);
  return [(field << 3) | 5, ...buf];
}

/** Event{wall_time=1, step=2, file_version=3 | summary=5{value=1{tag=1, simple_value=2}}}. */
export function encodeEvent(wallTime: number, step: number, body: { fileVersion: string } | { scalars: [string, number][] }): Uint8Array {
  const bytes = [...doubleField(1, wallTime), ...varint((2 << 3) | 0), ...varint(step)];
  if ("fileVersion" in body) {
    bytes.push(...lengthDelimited(3, Buffer.from(body.fileVersion)));
  } else {
    const values = body.scalars.flatMap(([tag, value]) =>
      lengthDelimited(1, [...lengthDelimited(1, Buffer.from(tag)), ...floatField(2, value)]),
    );
    bytes.push(...lengthDelimited(5, values));
  }
  return Uint8Array.from(bytes);
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

/** Writes numeric values of each dumped record as TensorBoard scalars. */
export class TensorBoardSink implements LogSink {
  readonly path: string;

  /** Starts a new event file in `dir`, or appends to the existing event file `continuePath` (a resumed run). */
  constructor(dir: string, continuePath?: string) {
    mkdirSync(dir, { recursive: true });
    if (continuePath !== undefined && existsSync(continuePath)) {
      this.path = continuePath;
      return;
    }
    const now = Date.now() / 1000;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    writeFileSync(this.path, tfRecord(encodeEvent(now, 0, { fileVersion: "brain.Event:2" })));
  }

  write(record: LogRecord, step: number): void {
    const scalars = Object.entries(record).filter((e): e is [string, number] => typeof e[1] === "number" && Number.isFinite(e[1]));
    if (scalars.length === 0) return;
    appendFileSync(this.path, tfRecord(encodeEvent(Date.now() / 1000, step, { scalars })));
  }
}
