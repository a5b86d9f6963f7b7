// The dashboard's files (src/apps/server/public/), served with a strict content security policy; shared
// by `serve` and `watch`.
import { readFileSync, readdirSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { HttpError } from "./http.ts";

const kPublicDir = join(dirname(fileURLToPath(import.meta.url)), "public");
const kContentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};
/** The dashboard loads only its own scripts and styles and talks only to this server. */
const kCsp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
// Only the files present at start are served: a request path is a key into this set, never a path.
const kPublicFiles = new Set(readdirSync(kPublicDir));

/** Serves `/` (index.html) and the other files of public/ by exact name; 404 otherwise. */
export function sendPublic(res: ServerResponse, path: string, head = false): void {
  const name = path === "/" ? "index.html" : path.slice(1);
  if (!kPublicFiles.has(name)) throw new HttpError(404, `No page ${path}`);
  const body = readFileSync(join(kPublicDir, name));
  res.writeHead(200, {
    "Content-Type": kContentTypes[extname(name)] ?? "application/octet-stream",
    "Content-Length": body.length,
    "Content-Security-Policy": kCsp,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
  });
  res.end(head ? undefined : body);
}
