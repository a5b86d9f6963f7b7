// Hostile inputs to `serve` (loopback only, fake trainer): foreign Host headers, run names that leave
// their folder, non-finite numbers, symlinked run files, and clients that hold memory (non-reading
// metric streams, parallel reads of a large metrics.jsonl).
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { serve, type RunningServer } from "../../src/apps/server/server.ts";
import type { RunInfo } from "../../src/apps/server/runs.ts";

const kHere = dirname(fileURLToPath(import.meta.url));
const kFakeRunner = join(kHere, "..", "server", "fake-runner.ts");
const kServeChild = join(kHere, "serve-child.ts");
const kToken = "reliability-token-0123456789";

/** Status of a raw request to the server with the given headers (fetch cannot set Host). */
function rawStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A run directory written the way the trainer writes one, without training. */
function fakeRunDir(runsDir: string, id: string): string {
  const dir = join(runsDir, id);
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "disk" }));
  return dir;
}

/** A metrics.jsonl of `rows` rows of about 250 bytes each, as the trainer writes them. */
function writeMetrics(path: string, rows: number): void {
  const lines: string[] = [];
  for (let step = 1; step <= rows; step++) {
    lines.push(JSON.stringify({ step, "rollout/score": (step % 7) / 10, "rollout/score_mean100": step / rows, "train/critic_loss": 1 / step, "train/actor_loss": -1 / step, "time/sps": 1234.5, note: "x".repeat(120) }));
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
}

/** Resident memory of a process, in bytes (Linux /proc). */
function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]) * 1024;
}

/** A client of the run's event stream that sends its request and then never reads. */
function stalledStream(url: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on("error", reject);
  });
}

describe("reliability: server", function () {
  let runsDir: string;
  let srv: RunningServer;
  const auth = { Authorization: `Bearer ${kToken}`, "Content-Type": "application/json" };
  const post = (path: string, body: unknown) => fetch(`${srv.url}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) });
  const get = (path: string) => fetch(`${srv.url}${path}`);

  beforeEach(async function () {
    runsDir = mkdtempSync(join(tmpdir(), "tennis-reliability-"));
    srv = await serve({ port: 0, token: kToken, runsDir, runner: kFakeRunner, stopGraceMs: 2000 });
  });

  afterEach(async function () {
    await srv.close();
    rmSync(runsDir, { recursive: true, force: true });
  });

  it("answers only Host headers naming loopback or the bound address (DNS rebinding)", async function () {
    const url = `${srv.url}/api/runs`;
    for (const host of ["127.evil.com", `127.evil.com:${srv.port}`, "127.0.0.1.evil.com", "localhost.evil.com", "evil.example", "127.0.0.1:80@evil.com", "[::1].evil.com"]) {
      expect(await rawStatus(url, { Host: host }), `Host: ${host}`).to.equal(403);
    }
    for (const host of ["127.0.0.1", `127.0.0.1:${srv.port}`, `localhost:${srv.port}`, "LOCALHOST", `[::1]:${srv.port}`]) {
      expect(await rawStatus(url, { Host: host }), host).to.equal(200);
    }
  });

  it("answers a server bound to another loopback address by that address too", async function () {
    const other = await serve({ host: "127.0.0.2", port: 0, token: kToken, runsDir, runner: kFakeRunner });
    try {
      const url = `${other.url}/api/health`;
      expect(await rawStatus(url, { Host: `127.0.0.2:${other.port}` })).to.equal(200);
      expect(await rawStatus(url, { Host: "localhost" })).to.equal(200);
      expect(await rawStatus(url, { Host: "127.0.0.3" })).to.equal(403);
    } finally {
      await other.close();
    }
  });

  it("refuses run names with `..` or a leading dot (one rule for schema, server and run folders)", async function () {
    for (const name of ["a..b", "..", ".hidden", "a/b"]) {
      const res = await post("/api/runs", { name, train: { episodes: 1 } });
      expect(res.status, name).to.equal(400);
      const body = (await res.json()) as { problems: string[] };
      expect(body.problems, name).to.deep.equal([
        `Expected string of 1-64 letters, digits, _, . or - (not starting with a dot, no ..) for \`name\` but received "${name}" of type string in the config`,
      ]);
    }
    // A name the rule accepts becomes a run the API lists and controls.
    const ok = await post("/api/runs", { name: "a.b-c_d", train: { episodes: 3 } });
    expect(ok.status).to.equal(201);
    const run = (await ok.json()) as RunInfo;
    const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(list.runs.map((r) => r.id)).to.deep.equal([run.id]);
    expect((await get(`/api/runs/${run.id}`)).status).to.equal(200);
  });

  it("refuses a POSTed config with a non-finite number, naming the field", async function () {
    const res = await fetch(`${srv.url}/api/runs`, { method: "POST", headers: auth, body: '{"train": {"targetScore": 1e309, "episodes": 1}}' });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { problems: string[] }).problems).to.deep.equal([
      "Expected finite number for `train.targetScore` but received Infinity of type number in the config",
    ]);
    expect(((await (await get("/api/runs")).json()) as { runs: RunInfo[] }).runs).to.deep.equal([]);
  });

  it("never serves a run file or checkpoint file through a symlink", async function () {
    const outside = mkdtempSync(join(tmpdir(), "tennis-outside-"));
    const secret = join(outside, "secret.json");
    writeFileSync(secret, JSON.stringify({ secret: "TOP-SECRET-CONTENT" }));
    const id = "tennis__disk__0__1700000000";
    const dir = fakeRunDir(runsDir, id);
    for (const file of ["stderr.log", "metrics.jsonl", "summary.json", "scores.png"]) symlinkSync(secret, join(dir, file));
    const checkpoint = join(dir, "checkpoints", "ep0000001");
    mkdirSync(checkpoint, { recursive: true });
    writeFileSync(join(checkpoint, "COMPLETE"), "");
    symlinkSync(secret, join(checkpoint, "agent.pt"));
    // A symlinked config.json does not make a run: it is neither listed nor read.
    const linked = join(runsDir, "tennis__linked__0__1700000000");
    mkdirSync(linked);
    symlinkSync(secret, join(linked, "config.json"));
    try {
      for (const file of ["stderr.log", "metrics.jsonl", "summary.json", "scores.png"]) {
        const res = await get(`/api/runs/${id}/files/${file}`);
        expect(res.status, file).to.equal(403);
        expect(await res.json(), file).to.deep.equal({ error: `${file} of run ${id} is not a regular file: links are not followed` });
      }
      const paths = [`/api/runs/${id}`, `/api/runs/${id}/summary`, `/api/runs/${id}/metrics`, `/api/runs/${id}/checkpoints`, `/api/runs/${id}/checkpoints/ep0000001/agent.pt`, "/api/runs", "/api/runs/tennis__linked__0__1700000000"];
      for (const path of paths) {
        const res = await get(path);
        expect(await res.text(), path).not.to.contain("TOP-SECRET");
      }
      const detail = (await (await get(`/api/runs/${id}`)).json()) as { files: string[]; checkpoints: { files: unknown[] }[] };
      expect(detail.files).to.deep.equal(["config.json"]);
      expect(detail.checkpoints[0].files).to.deep.equal([{ name: "COMPLETE", bytes: 0 }]);
      expect((await get(`/api/runs/${id}/checkpoints/ep0000001/agent.pt`)).status).to.equal(404);
      const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
      expect(list.runs.map((r) => r.id)).to.deep.equal([id]);
      expect((await get("/api/runs/tennis__linked__0__1700000000")).status).to.equal(404);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("reliability: server memory under clients that hold it", function () {
  this.timeout(120_000);
  /** Rows of the generated metrics.jsonl: about 30 MB. */
  const kRows = 120_000;
  const id = "tennis__big__0__1700000000";
  let runsDir: string;
  let child: ChildProcess;
  let url: string;

  before(async function () {
    runsDir = mkdtempSync(join(tmpdir(), "tennis-reliability-big-"));
    writeMetrics(join(fakeRunDir(runsDir, id), "metrics.jsonl"), kRows);
    child = spawn(process.execPath, ["--import", "tsx", kServeChild, runsDir], { stdio: ["ignore", "pipe", "inherit"] });
    url = await new Promise<string>((resolve, reject) => {
      child.stdout!.once("data", (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { url: string }).url));
      child.once("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    });
  });

  after(async function () {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    rmSync(runsDir, { recursive: true, force: true });
  });

  it("pages large metrics: from, after a step, the tail, with a capped default", async function () {
    const page = async (query: string) => (await (await fetch(`${url}/api/runs/${id}/metrics${query}`)).json()) as { rows: { step: number }[]; first: number; next: number; total: number };
    const first = await page("");
    expect(first.rows).to.have.length(1000);
    expect([first.rows[0].step, first.rows[999].step, first.first, first.next, first.total]).to.deep.equal([1, 1000, 0, 1000, kRows]);
    const from = await page("?from=1000&limit=2");
    expect(from.rows.map((r) => r.step)).to.deep.equal([1001, 1002]);
    expect(from.next).to.equal(1002);
    const after = await page("?after=5000&limit=3");
    expect(after.rows.map((r) => r.step)).to.deep.equal([5001, 5002, 5003]);
    const tail = await page("?tail=2");
    expect(tail.rows.map((r) => r.step)).to.deep.equal([kRows - 1, kRows]);
    expect(tail.next).to.equal(kRows);
    const res = await fetch(`${url}/api/runs/${id}/metrics?limit=100000`);
    expect(res.status).to.equal(400);
    expect(await res.json()).to.deep.equal({ error: 'Expected integer in [0, 5000] for limit but received "100000"' });
  });

  it("stays within bounded memory with non-reading streams and parallel metric reads, and answers health promptly", async function () {
    await fetch(`${url}/api/runs/${id}/metrics?limit=1`);
    const before = rssOf(child.pid!);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => stalledStream(url, `/api/runs/${id}/events`)));
    try {
      const reads = Array.from({ length: 20 }, (_, i) => fetch(`${url}/api/runs/${id}/metrics${i % 2 ? "?tail=5000" : ""}`).then((r) => r.arrayBuffer()));
      const started = Date.now();
      const health = await fetch(`${url}/api/health`);
      const healthMs = Date.now() - started;
      expect(health.status).to.equal(200);
      const pages = await Promise.all(reads);
      expect(pages.every((p) => p.byteLength > 0)).to.equal(true);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const grown = rssOf(child.pid!) - before;
      expect(grown, `RSS grew by ${Math.round(grown / 2 ** 20)} MiB`).to.be.below(100 * 2 ** 20);
      // Generous for a loaded 2-core machine; before paging and backpressure it took over 8 s.
      expect(healthMs, "ms for /api/health").to.be.below(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
