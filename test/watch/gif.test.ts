// The GIF encoder: round trips through a separate decoder (and Pillow, where /usr/bin/python3 has it),
// including frames long enough to fill the 4096-code LZW table, and argument checks.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ExactPalette, GifWriter, lzwEncode, type Rgb } from "../../src/apps/watch/gif.ts";
import { pythonModulesMissing, skipBecause } from "../test-deps.ts";
import { decodeGif } from "./gif-decode.ts";

/** Deterministic pseudo-random bytes (xorshift32). */
function noise(length: number, colors: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % colors;
  }
  return out;
}

const palette = (n: number): Rgb[] => Array.from({ length: n }, (_, i) => [i * 37 % 256, i * 91 % 256, i * 13 % 256] as Rgb);

describe("watch/gif", function () {
  it("round-trips frames exactly, with delays, loop and palette", function () {
    const width = 37;
    const height = 23;
    const colors = palette(5);
    const frames = [noise(width * height, 5, 1), new Uint8Array(width * height), noise(width * height, 5, 2).map((v) => (v > 2 ? 4 : 0))];
    const writer = new GifWriter(width, height, colors, { loop: 0 });
    frames.forEach((f, i) => writer.addFrame(f, 5 + i));
    const gif = decodeGif(writer.finish());
    expect([gif.width, gif.height, gif.loop]).to.deep.equal([width, height, 0]);
    expect(gif.palette.slice(0, 5)).to.deep.equal(colors);
    expect(gif.palette).to.have.length(8);
    expect(gif.frames.map((f) => f.delayCs)).to.deep.equal([5, 6, 7]);
    gif.frames.forEach((f, i) => expect(Buffer.from(f.indices).equals(Buffer.from(frames[i])), `frame ${i}`).to.equal(true));
  });

  it("survives the LZW table filling up (clear codes) for every palette size", function () {
    for (const n of [2, 3, 4, 16, 17, 200, 256]) {
      const width = 300;
      const height = 120;
      const frame = noise(width * height, n, n);
      // A run of one colour too, so both long and short strings are in the table.
      frame.fill(n - 1, 1000, 5000);
      const writer = new GifWriter(width, height, palette(n));
      writer.addFrame(frame);
      const gif = decodeGif(writer.finish());
      expect(Buffer.from(gif.frames[0].indices).equals(Buffer.from(frame)), `${n} colours`).to.equal(true);
    }
  });

  it("compresses flat pictures well", function () {
    const indices = new Uint8Array(400 * 200);
    expect(lzwEncode(indices, 2).length).to.be.below(indices.length / 50);
  });

  it("is read by Pillow as the same animation", function () {
    const missing = pythonModulesMissing(["PIL"]);
    if (missing) skipBecause(this, missing);
    const dir = mkdtempSync(join(tmpdir(), "tennis-gif-"));
    try {
      const width = 64;
      const height = 40;
      const colors = palette(6);
      const writer = new GifWriter(width, height, colors);
      const frames = [0, 1, 2, 3].map((s) => noise(width * height, 6, s + 10));
      frames.forEach((f) => writer.addFrame(f, 4));
      const path = join(dir, "a.gif");
      writeFileSync(path, writer.finish());
      const script = [
        "import sys, json",
        "from PIL import Image, ImageSequence",
        "im = Image.open(sys.argv[1])",
        "out = []",
        "for f in ImageSequence.Iterator(im):",
        "    rgb = f.convert('RGB')",
        "    out.append([list(rgb.getpixel((x, y))) for (x, y) in [(0, 0), (5, 3), (63, 39), (17, 22)]])",
        "print(json.dumps({'n': im.n_frames, 'size': im.size, 'px': out, 'duration': im.info.get('duration')}))",
      ].join("\n");
      const run = spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" });
      expect(run.status, run.stderr).to.equal(0);
      const seen = JSON.parse(run.stdout) as { n: number; size: number[]; px: number[][][]; duration: number };
      expect(seen.n).to.equal(4);
      expect(seen.size).to.deep.equal([width, height]);
      expect(seen.duration).to.equal(40);
      frames.forEach((f, i) => {
        const expected = [[0, 0], [5, 3], [63, 39], [17, 22]].map(([x, y]) => colors[f[y * width + x]]);
        expect(seen.px[i], `frame ${i}`).to.deep.equal(expected);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("checks its arguments", function () {
    expect(() => new GifWriter(0, 10, palette(2))).to.throw(RangeError, "Expected integer in [1, 65535] for width but received 0");
    expect(() => new GifWriter(10, 10, palette(257))).to.throw(RangeError, "Expected 1 to 256 colours for palette but received 257");
    const writer = new GifWriter(4, 4, palette(3));
    expect(() => writer.addFrame(new Uint8Array(15))).to.throw(RangeError, "Expected 16 indices for frame but received 15");
    expect(() => writer.addFrame(new Uint8Array(16).fill(3))).to.throw(RangeError, "Palette index 3 at pixel 0 is past the 3 colours");
  });

  it("maps RGBA pixels to an exact shared palette", function () {
    const p = new ExactPalette([[255, 255, 255]]);
    const rgba = Uint8Array.from([255, 255, 255, 255, 10, 20, 30, 255, 10, 20, 30, 0, 255, 255, 255, 255]);
    expect(Array.from(p.map(rgba))).to.deep.equal([0, 1, 1, 0]);
    expect(p.colors).to.deep.equal([
      [255, 255, 255],
      [10, 20, 30],
    ]);
    const many = new ExactPalette();
    expect(() => {
      for (let i = 0; i < 257; i++) many.indexOf(i % 256, i >> 8, 0);
    }).to.throw(RangeError, /more than 256 colours/);
  });
});
