// A plain GIF decoder for the tests (written from the GIF89a spec, separately from the encoder):
// header, global palette, frames with their delays, LZW data.

export interface DecodedGif {
  width: number;
  height: number;
  palette: [number, number, number][];
  loop: number | null;
  frames: { indices: Uint8Array; delayCs: number; left: number; top: number; width: number; height: number }[];
}

export function decodeGif(bytes: Uint8Array): DecodedGif {
  let p = 0;
  const u8 = () => bytes[p++];
  const u16 = () => {
    const v = bytes[p] | (bytes[p + 1] << 8);
    p += 2;
    return v;
  };
  const subBlocks = (): number[] => {
    const out: number[] = [];
    for (let n = u8(); n !== 0; n = u8()) {
      for (let i = 0; i < n; i++) out.push(bytes[p + i]);
      p += n;
    }
    return out;
  };
  const signature = String.fromCharCode(...bytes.subarray(0, 6));
  if (signature !== "GIF89a" && signature !== "GIF87a") throw new Error(`not a GIF: ${signature}`);
  p = 6;
  const width = u16();
  const height = u16();
  const packed = u8();
  p += 2;
  const palette: [number, number, number][] = [];
  if (packed & 0x80) {
    const size = 2 << (packed & 7);
    for (let i = 0; i < size; i++) palette.push([u8(), u8(), u8()]);
  }
  const gif: DecodedGif = { width, height, palette, loop: null, frames: [] };
  let delay = 0;
  for (;;) {
    const block = u8();
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = u8();
      const data = subBlocks();
      if (label === 0xf9) delay = data[1] | (data[2] << 8);
      if (label === 0xff && String.fromCharCode(...data.slice(0, 11)) === "NETSCAPE2.0") gif.loop = data[12] | (data[13] << 8);
      continue;
    }
    if (block !== 0x2c) throw new Error(`unexpected block 0x${block.toString(16)} at ${p - 1}`);
    const left = u16();
    const top = u16();
    const w = u16();
    const h = u16();
    const flags = u8();
    if (flags & 0x80) p += 3 * (2 << (flags & 7));
    if (flags & 0x40) throw new Error("interlaced frames are not decoded here");
    const minCodeSize = u8();
    const indices = lzwDecode(subBlocks(), minCodeSize, w * h);
    gif.frames.push({ indices, delayCs: delay, left, top, width: w, height: h });
  }
  return gif;
}

function lzwDecode(data: number[], minCodeSize: number, pixels: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const eoi = clear + 1;
  let codeSize = minCodeSize + 1;
  let dict: number[][] = [];
  const reset = () => {
    dict = [];
    for (let i = 0; i < clear; i++) dict.push([i]);
    dict.push([], []);
    codeSize = minCodeSize + 1;
  };
  reset();
  const out: number[] = [];
  let bit = 0;
  let prev: number[] | null = null;
  while (bit + codeSize <= data.length * 8) {
    let code = 0;
    for (let i = 0; i < codeSize; i++, bit++) if (data[bit >> 3] & (1 << (bit & 7))) code |= 1 << i;
    if (code === clear) {
      reset();
      prev = null;
      continue;
    }
    if (code === eoi) break;
    let entry: number[];
    if (code < dict.length) entry = dict[code];
    else if (code === dict.length && prev) entry = [...prev, prev[0]];
    else throw new Error(`bad LZW code ${code} (table has ${dict.length})`);
    out.push(...entry);
    if (prev && dict.length < 4096) dict.push([...prev, entry[0]]);
    if (dict.length === 1 << codeSize && codeSize < 12) codeSize += 1;
    prev = entry;
  }
  if (out.length !== pixels) throw new Error(`frame decodes to ${out.length} pixels, expected ${pixels}`);
  return Uint8Array.from(out);
}
