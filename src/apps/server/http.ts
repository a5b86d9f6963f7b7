// Small HTTP helpers over node:http: JSON replies, size-limited JSON bodies, bearer-token checks and
// the Host-header check that keeps a localhost server out of reach of DNS-rebinding pages.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error that becomes an HTTP reply: status, message and optional details (e.g. config problems). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Headers every API reply carries: no caching, no content sniffing. */
const kApiHeaders = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...kApiHeaders, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: err.message, ...err.details });
}

/**
 * Reads a JSON request body of at most `limit` bytes. Throws HttpError 413 past the limit (checked on
 * Content-Length first, then while streaming, so a lying client cannot push more), 415 for another
 * content type and 400 for text that is not JSON.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, `Expected Content-Type application/json but received ${type}`);
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `Request body of ${declared} bytes exceeds the limit of ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `Request body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `Request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Query parameter `name` as an integer in [min, max]; undefined when absent or empty; HttpError 400 otherwise. */
export function integerParam(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const text = params.get(name);
  if (text === null || text === "") return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new HttpError(400, `Expected integer in [${min}, ${max}] for ${name} but received ${JSON.stringify(text)}`);
  return value;
}

/** Constant-time comparison of the request's bearer token with the server's. */
export function hasToken(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return false;
  // Hashing first gives equal lengths, which timingSafeEqual requires.
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}

/** Host names that always mean this machine: the loopback literals and `localhost`. */
const kLoopbackNames = new Set(["localhost", "127.0.0.1", "::1"]);
/** Listen addresses that accept connections on every interface (no name to check the Host against). */
const kWildcardHosts = new Set(["", "0.0.0.0", "::", "[::]"]);

/** A listen address or Host name without IPv6 brackets, lower-cased. */
function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
}

/** Whether `host` (a listen address) only accepts local connections: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const bare = bareHost(host);
  return kLoopbackNames.has(bare) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The name part of a Host header (`name`, `name:port`, `[v6]` or `[v6]:port`), or null when it has another shape. */
export function hostHeaderName(header: string): string | null {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/@]+)(?::\d{1,5})?$/.exec(header);
  return match ? bareHost(match[1]) : null;
}

/**
 * The Host header must name what the server is bound to: for a loopback server the exact loopback
 * literals (127.0.0.1, [::1]), `localhost` or the bound address itself, each with an optional port;
 * for a server bound to another specific address, that address. A page on another site whose DNS
 * name is re-pointed at the server (DNS rebinding) sends its own name and is refused. A server bound
 * to every interface (0.0.0.0, ::) has no name to check and takes any Host.
 */
export function hostAllowed(req: IncomingMessage, listenHost: string): boolean {
  const bound = bareHost(listenHost);
  if (kWildcardHosts.has(bound)) return true;
  const name = hostHeaderName(req.headers.host ?? "");
  if (name === null) return false;
  return name === bound || (isLoopback(bound) && kLoopbackNames.has(name));
}

export const apiHeaders = kApiHeaders;
