// Hostile inputs to `serve` (loopback only, fake trainer): foreign Host headers, run names that leave
// their folder, non-finite numbers, symlinked run files, and clients that hold memory (non-reading
// metric streams, parallel reads of a large metrics.jsonl).
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { serve, type RunningServer } from "../../src/server/server.ts";
import type { RunInfo } from "../../src/server/runs.ts";

const kFakeRunner = join(dirname(fileURLToPath(import.meta.url)), "..", "server", "fake-runner.ts");
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
