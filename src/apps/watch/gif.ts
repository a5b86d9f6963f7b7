// A small animated-GIF (GIF89a) encoder: one global palette of at most 256 colours, LZW-compressed
// frames, a per-frame delay and the NETSCAPE2.0 loop extension. Enough for flat-colour court
// renders, where every colour is exact and no dithering is wanted.

/** An RGB colour, components 0-255. */
export type Rgb = [number, number, number];

/** GIF codes are at most 12 bits wide. */
const kMaxCodes = 4096;

/**
 * LZW-compresses palette indices as GIF stores them (variable code width from minCodeSize + 1 up to 12
 * bits, clear code when the table fills, least-significant bit first) and splits the bytes into
 * sub-blocks of at most 255. Returns the bytes after the min-code-size byte, terminator included.
 */
export function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out: number[] = [];
  let bitBuffer = 0;
  let bitCount = 0;
  let codeSize = minCodeSize + 1;
  const write = (code: number) => {
    bitBuffer |= code << bitCount;
    bitCount += codeSize;
    while (bitCount >= 8) {
      out.push(bitBuffer & 0xff);
      bitBuffer >>>= 8;
      bitCount -= 8;
    }
  };
  // Dictionary: (prefix code << 8 | next index) -> code.
  let table = new Map<number, number>();
  let nextCode = end + 1;
  write(clear);
  if (indices.length > 0) {
    let prefix = indices[0];
    for (let i = 1; i < indices.length; i++) {
      const k = indices[i];
      const key = (prefix << 8) | k;
      const found = table.get(key);
      if (found !== undefined) {
        prefix = found;
        continue;
      }
      write(prefix);
      if (nextCode < kMaxCodes) {
        table.set(key, nextCode);
        // The decoder widens its codes one step behind the encoder's table, so widen when the code
        // just assigned no longer fits.
        if (nextCode === 1 << codeSize && codeSize < 12) codeSize += 1;
        nextCode += 1;
      } else {
        write(clear);
        table = new Map();
        nextCode = end + 1;
        codeSize = minCodeSize + 1;
      }
      prefix = k;
    }
    write(prefix);
  }
  write(end);
  if (bitCount > 0) out.push(bitBuffer & 0xff);
  const blocks: number[] = [];
  for (let i = 0; i < out.length; i += 255) {
    const chunk = out.slice(i, i + 255);
    blocks.push(chunk.length, ...chunk);
  }
  blocks.push(0);
  return Uint8Array.from(blocks);
}

export interface GifOptions {
  /** Times the animation plays after the first; 0 = forever (default). */
  loop?: number;
}

/**
 * Collects frames of palette indices and writes a GIF89a. Every frame covers the whole picture;
 * delays are in hundredths of a second (GIF's unit; browsers treat < 2 as 10, so use >= 2).
 */
export class GifWriter {
  private readonly parts: Uint8Array[] = [];
  private readonly tableBits: number;
  private frames = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly palette: Rgb[],
    options: GifOptions = {},
  ) {
    if (!Number.isInteger(width) || width < 1 || width > 65535) throw new RangeError(`Expected integer in [1, 65535] for width but received ${width}`);
    if (!Number.isInteger(height) || height < 1 || height > 65535) throw new RangeError(`Expected integer in [1, 65535] for height but received ${height}`);
    if (palette.length < 1 || palette.length > 256) throw new RangeError(`Expected 1 to 256 colours for palette but received ${palette.length}`);
    this.tableBits = Math.max(1, Math.ceil(Math.log2(palette.length)));
    const header = new Uint8Array(13);
    header.set([...Buffer.from("GIF89a", "ascii")], 0);
    u16(header, 6, width);
    u16(header, 8, height);
    // Global colour table present (0x80), 8 bits of colour resolution (0x70), table size 2^(n+1).
    header[10] = 0x80 | 0x70 | (this.tableBits - 1);
    this.parts.push(header);
    const table = new Uint8Array(3 << this.tableBits);
    palette.forEach(([r, g, b], i) => table.set([r, g, b], i * 3));
    this.parts.push(table);
    const loop = options.loop ?? 0;
    const netscape = new Uint8Array(19);
    netscape.set([0x21, 0xff, 0x0b, ...Buffer.from("NETSCAPE2.0", "ascii"), 0x03, 0x01, loop & 0xff, loop >> 8, 0x00]);
    this.parts.push(netscape);
  }

  /** Adds a frame: width*height palette indices, row by row, shown for delayCs hundredths of a second. */
  addFrame(indices: Uint8Array, delayCs = 10): void {
    if (indices.length !== this.width * this.height) {
      throw new RangeError(`Expected ${this.width * this.height} indices for frame but received ${indices.length}`);
    }
    for (let i = 0; i < indices.length; i++) {
      if (indices[i] >= this.palette.length) throw new RangeError(`Palette index ${indices[i]} at pixel ${i} is past the ${this.palette.length} colours`);
    }
    // Graphic control extension: disposal 1 (leave in place), no transparency.
    const control = new Uint8Array([0x21, 0xf9, 0x04, 0x04, 0, 0, 0, 0x00]);
    u16(control, 4, Math.max(0, Math.min(65535, Math.round(delayCs))));
    const descriptor = new Uint8Array(10);
    descriptor[0] = 0x2c;
    u16(descriptor, 5, this.width);
    u16(descriptor, 7, this.height);
    const minCodeSize = Math.max(2, this.tableBits);
    this.parts.push(control, descriptor, Uint8Array.of(minCodeSize), lzwEncode(indices, minCodeSize));
    this.frames += 1;
  }

  get frameCount(): number {
    return this.frames;
  }

  /** The whole file. */
  finish(): Buffer {
    return Buffer.concat([...this.parts, Uint8Array.of(0x3b)]);
  }
}

function u16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >> 8) & 0xff;
}

/**
 * Maps RGBA pixels to indices of an exact palette that grows as new colours appear (shared across
 * frames). Throws when a picture needs more than 256 colours: renders of the court use a handful.
 */
export class ExactPalette {
  readonly colors: Rgb[] = [];
  private readonly lookup = new Map<number, number>();

  constructor(initial: Rgb[] = []) {
    for (const color of initial) this.indexOf(color[0], color[1], color[2]);
  }

  indexOf(r: number, g: number, b: number): number {
    const key = (r << 16) | (g << 8) | b;
    let index = this.lookup.get(key);
    if (index === undefined) {
      if (this.colors.length >= 256) throw new RangeError("The frames use more than 256 colours; a GIF palette holds 256");
      index = this.colors.length;
      this.colors.push([r, g, b]);
      this.lookup.set(key, index);
    }
    return index;
  }

  /** Indices of RGBA pixels (alpha ignored). */
  map(rgba: Uint8Array): Uint8Array {
    const out = new Uint8Array(rgba.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = this.indexOf(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]);
    return out;
  }
}
