// A pixel canvas over pngjs for the env's renders and the rally GIF frames (no text: labelled charts
// are made by plot.ts).
import { PNG } from "pngjs";

type Rgb = [number, number, number];

/** An RGBA canvas with the few primitives the plots and renders need. */
export class Canvas {
  readonly png: PNG;

  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.png = new PNG({ width, height });
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, [r, g, b]: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  fillRect(x0: number, y0: number, w: number, h: number, color: Rgb): void {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.height, y0 + h); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.width, x0 + w); x++) this.setPixel(x, y, color);
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, dash = 0): void {
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= n; i++) {
      if (dash > 0 && Math.floor(i / dash) % 2 === 1) continue;
      this.setPixel(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, color);
    }
  }

  disc(cx: number, cy: number, r: number, color: Rgb): void {
    for (let y = Math.floor(cy - r); y <= cy + r; y++) {
      for (let x = Math.floor(cx - r); x <= cx + r; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) this.setPixel(x, y, color);
    }
  }

  toBuffer(): Buffer {
    return PNG.sync.write(this.png);
  }
}
