// The HTTP API with a fake trainer process: auth, config validation, limits, the queue, stop, crash
// isolation, metric streams to several clients, file and checkpoint downloads, path containment.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { runServe, serve, type RunningServer } from "../../src/apps/server/server.ts";
import type { RunInfo } from "../../src/apps/server/runs.ts";
import { collectEvents, type SseEvent } from "./sse.ts";

const kFakeRunner = join(dirname(fileURLToPath(import.meta.url)), "fake-runner.ts");
const kToken = "test-token-0123456789";

describe("server API (fake trainer)", function () {
  let runsDir: string;
  let srv: RunningServer;
  const auth = { Authorization: `Bearer ${kToken}` };
  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${srv.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const get = (path: string) => fetch(`${srv.url}${path}`);
  const startRun = async (config: unknown): Promise<RunInfo> => {
    const res = await post("/api/runs", config);
    expect(res.status, await res.clone().text()).to.equal(201);
    return (await res.json()) as RunInfo;
  };
  const waitFor = async (id: string, states: string[], timeoutMs = 20_000): Promise<RunInfo> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const info = (await (await get(`/api/runs/${id}`)).json()) as RunInfo;
      if (states.includes(info.state)) return info;
      if (Date.now() > end) throw new Error(`run ${id} stayed ${info.state}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeEach(async function () {
    runsDir = mkdtempSync(join(tmpdir(), "tennis-server-"));
    srv = await serve({ port: 0, token: kToken, runsDir, maxConcurrent: 1, runner: kFakeRunner, stopGraceMs: 5000 });
  });

  afterEach(async function () {
    await srv.close();
    rmSync(runsDir, { recursive: true, force: true });
  });

  it("refuses control requests without the right token (401) and serves reads without it", async function () {
    for (const headers of [{}, { Authorization: "Bearer wrong-token-0000000" }, { Authorization: kToken }] as Record<string, string>[]) {
      const res = await post("/api/runs", {}, headers);
      expect(res.status).to.equal(401);
      expect(((await res.json()) as { error: string }).error).to.match(/token/);
    }
    const stop = await post("/api/runs/anything/stop", {}, {});
    expect(stop.status).to.equal(401);
    const list = await get("/api/runs");
    expect(list.status).to.equal(200);
    expect(await list.json()).to.deep.equal({ runs: [] });
  });

  it("answers a bad config with 400 naming each field, and starts nothing", async function () {
    const res = await post("/api/runs", { train: { episodes: 0, batchSize: "big" }, agnet: {} });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: string; problems: string[] };
    expect(body.error).to.equal("Invalid config");
    expect(body.problems.join("\n")).to.contain("`train.episodes`");
    expect(body.problems.join("\n")).to.contain("`train.batchSize`");
    expect(body.problems.join("\n")).to.match(/Unknown option `agnet`.*did you mean `agent`/);
    const name = await post("/api/runs", { name: "../../etc" });
    expect(name.status).to.equal(400);
    expect(((await name.json()) as { problems: string[] }).problems.join("\n")).to.contain("`name`");
    // Cross-field rules (check.ts) apply too.
    const cross = await post("/api/runs", { train: { batchSize: 64 }, buffer: { capacity: 32 } });
    expect(cross.status).to.equal(400);
    expect(((await cross.json()) as { problems: string[] }).problems.join("\n")).to.contain("`buffer.capacity`");
    const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(list.runs).to.deep.equal([]);
  });

  it("rejects bodies that are not JSON, not JSON objects, too large or of another type", async function () {
    expect((await post("/api/runs", "{not json")).status).to.equal(400);
    const array = await post("/api/runs", "[1, 2]");
    expect(array.status).to.equal(400);
    expect(((await array.json()) as { problems: string[] }).problems[0]).to.match(/Expected a JSON object/);
    const big = await post("/api/runs", { name: "x".repeat(70 * 1024) });
    expect(big.status).to.equal(413);
    const text = await post("/api/runs", "{}", { ...auth, "Content-Type": "text/plain" });
    expect(text.status).to.equal(415);
  });

  it("streams a run's metrics to several clients at once, then its end", async function () {
    const run = await startRun({ name: "streamed", train: { episodes: 12, window: 5 } });
    expect(run.state).to.be.oneOf(["queued", "running"]);
    const finished = (events: SseEvent[]) => events.some((e) => e.event === "status" && (e.data as RunInfo).state === "finished");
    const clients = await Promise.all([0, 1, 2].map(() => collectEvents(`${srv.url}/api/runs/${run.id}/events`, finished)));
    for (const events of clients) {
      const rows = events.filter((e) => e.event === "metrics").flatMap((e) => (e.data as { rows: Record<string, number>[] }).rows);
      expect(rows.map((r) => r.step)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(rows[11]["rollout/score_mean100"]).to.be.closeTo([8, 9, 10, 11, 12].reduce((a, e) => a + (e % 7) / 10, 0) / 5, 1e-9);
      expect(events[0].event).to.equal("status");
    }
    const info = await waitFor(run.id, ["finished"]);
    expect(info.episodes).to.equal(12);
    expect(info.summary).to.include({ episodes: 12, stopped: "episodes" });
    const summary = await get(`/api/runs/${run.id}/summary`);
    expect(await summary.json()).to.include({ episodes: 12 });
    // A late client resumes after the rows it saw (Last-Event-ID), as EventSource does on reconnect.
    const resumed = await collectEvents(`${srv.url}/api/runs/${run.id}/events`, (events) => events.some((e) => e.event === "metrics"), 5000, { "Last-Event-ID": "10" });
    const rows = resumed.filter((e) => e.event === "metrics").flatMap((e) => (e.data as { rows: Record<string, number>[] }).rows);
    expect(rows.map((r) => r.step)).to.deep.equal([11, 12]);
  });

  it("queues runs beyond the concurrency limit and starts them in order", async function () {
    const first = await startRun({ name: "first", train: { episodes: 20 } });
    const second = await startRun({ name: "second", train: { episodes: 3 } });
    expect(first.state).to.equal("running");
    expect(second).to.include({ state: "queued", queuePosition: 1 });
    const mid = (await (await get(`/api/runs/${second.id}`)).json()) as RunInfo;
    expect(mid.state).to.equal("queued");
    const done = await waitFor(second.id, ["finished"]);
    const firstDone = (await (await get(`/api/runs/${first.id}`)).json()) as RunInfo;
    expect(firstDone.state).to.equal("finished");
    expect(Date.parse(done.startedAt!)).to.be.at.least(Date.parse(firstDone.endedAt!));
  });

  it("stops a running run (with its summary) and cancels a queued one", async function () {
    const long = await startRun({ name: "long", train: { episodes: 100000 } });
    const queued = await startRun({ name: "waiting", train: { episodes: 5 } });
    await collectEvents(`${srv.url}/api/runs/${long.id}/events`, (events) => events.filter((e) => e.event === "episode").length >= 2);
    const cancel = await post(`/api/runs/${queued.id}/stop`, {});
    expect(cancel.status).to.equal(202);
    expect(await cancel.json()).to.include({ state: "stopped" });
    const stop = await post(`/api/runs/${long.id}/stop`, {});
    expect(stop.status).to.equal(202);
    expect(await stop.json()).to.include({ state: "stopping" });
    const info = await waitFor(long.id, ["stopped", "failed"]);
    expect(info.state).to.equal("stopped");
    expect(info.summary).to.include({ stopped: "interrupted" });
    expect((await post(`/api/runs/${long.id}/stop`, {})).status).to.equal(409);
    expect((await post(`/api/runs/nonexistent-run/stop`, {})).status).to.equal(404);
  });

  it("survives a crashing run: the run fails with its stderr, the next one runs", async function () {
    const crash = await startRun({ name: "crash", train: { episodes: 50 } });
    const next = await startRun({ name: "after", train: { episodes: 3 } });
    const info = await waitFor(crash.id, ["failed", "finished"]);
    expect(info.state).to.equal("failed");
    expect(info.error).to.contain("exited with code 3").and.to.contain("simulated native crash");
    expect(readFileSync(join(runsDir, crash.id, "stderr.log"), "utf8")).to.contain("simulated native crash");
    expect((await waitFor(next.id, ["finished", "failed"])).state).to.equal("finished");
    expect((await get("/api/health")).status).to.equal(200);
  });

  it("serves run files and checkpoint downloads, and nothing outside the run", async function () {
    const run = await startRun({ name: "files", train: { episodes: 4 } });
    await waitFor(run.id, ["finished"]);
    const detail = (await (await get(`/api/runs/${run.id}`)).json()) as { config: { name: string; log: { runsDir: string } }; latestCheckpoint: string };
    expect(detail.config.name).to.equal("files");
    expect(detail.config.log.runsDir).to.equal(runsDir);
    expect(detail.latestCheckpoint).to.equal("ep0000003");
    const weights = await get(`/api/runs/${run.id}/checkpoints/latest/agent.pt`);
    expect(weights.status).to.equal(200);
    expect(weights.headers.get("content-disposition")).to.contain("attachment");
    expect(Buffer.from(await weights.arrayBuffer()).toString()).to.equal("fake weights");
    const metrics = await get(`/api/runs/${run.id}/files/metrics.jsonl`);
    expect((await metrics.text()).trim().split("\n")).to.have.length(4);
    const rows = (await (await get(`/api/runs/${run.id}/metrics?from=2`)).json()) as { rows: { step: number }[]; next: number };
    expect(rows.rows.map((r) => r.step)).to.deep.equal([3, 4]);
    expect(rows.next).to.equal(4);

    writeFileSync(join(runsDir, "secret.txt"), "TOP-SECRET-CONTENT");
    for (const path of [
      `/api/runs/..%2F..%2Fetc`,
      `/api/runs/%2E%2E`,
      `/api/runs/${run.id}/files/..%2F..%2Fsecret.txt`,
      `/api/runs/${run.id}/files/COMPLETE`,
      `/api/runs/${run.id}/checkpoints/..%2F..%2F/secret.txt`,
      `/api/runs/${run.id}/checkpoints/ep0000003/..%2F..%2Fconfig.json`,
      `/api/runs/${run.id}/checkpoints/..%2F../secret.txt`,
    ]) {
      const res = await get(path);
      expect([400, 404], path).to.include(res.status);
      expect(await res.text(), path).not.to.contain("TOP-SECRET-CONTENT");
    }
    // A symlink in the runs folder pointing outside it is neither listed nor served.
    const outside = mkdtempSync(join(tmpdir(), "tennis-outside-"));
    writeFileSync(join(outside, "config.json"), JSON.stringify({ name: "outside" }));
    symlinkSync(outside, join(runsDir, "tennis__escape__0__1"));
    const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(list.runs.map((r) => r.id)).to.deep.equal([run.id]);
    expect((await get("/api/runs/tennis__escape__0__1")).status).to.equal(400);
    rmSync(outside, { recursive: true, force: true });
  });

  it("lists runs found on disk that it did not start, read-only", async function () {
    const dir = join(runsDir, "tennis__cli__0__1700000000");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "cli" }));
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ episodes: 42, stopped: "solved" }));
    const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(list.runs).to.have.length(1);
    expect(list.runs[0]).to.include({ id: "tennis__cli__0__1700000000", state: "finished", managed: false, episodes: 42 });
    expect((await post("/api/runs/tennis__cli__0__1700000000/stop", {})).status).to.equal(409);
    expect((await get("/api/runs/tennis__cli__0__1700000000/replay")).status).to.equal(404);
  });

  it("reports a CLI run's episodes, last score and moving average from its last episode row", async function () {
    const dir = join(runsDir, "tennis__cli__1__1700000000");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ name: "cli" }));
    const rows = [1, 2, 3].map((step) => JSON.stringify({ step, "rollout/score": step / 10, "rollout/score_mean100": step / 20 }));
    // A row without the moving average after the last episode row, then a line still being written.
    writeFileSync(join(dir, "metrics.jsonl"), `${rows.join("\n")}\n{"step":3,"select/check_score":2.5}\n{"step":4,"rollout/sc`);
    const list = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(list.runs[0]).to.include({ state: "incomplete", episodes: 3, lastScore: 0.3, average: 0.15 });
    // A finished run keeps its summary's episode count.
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ episodes: 7, stopped: "solved" }));
    const done = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(done.runs[0]).to.include({ state: "finished", episodes: 7, average: 0.15 });
    // A symlinked metrics file is not read.
    rmSync(join(dir, "metrics.jsonl"));
    const outside = join(mkdtempSync(join(tmpdir(), "tennis-outside-")), "metrics.jsonl");
    writeFileSync(outside, `${rows[2]}\n`);
    symlinkSync(outside, join(dir, "metrics.jsonl"));
    const linked = (await (await get("/api/runs")).json()) as { runs: RunInfo[] };
    expect(linked.runs[0]).to.include({ average: null, lastScore: null });
    rmSync(dirname(outside), { recursive: true, force: true });
    // Nor is a FIFO (opening one to read would wait for a writer forever).
    rmSync(join(dir, "metrics.jsonl"));
    execFileSync("mkfifo", [join(dir, "metrics.jsonl")]);
    const fifo = await fetch(`${srv.url}/api/runs`, { signal: AbortSignal.timeout(5000) });
    expect(((await fifo.json()) as { runs: RunInfo[] }).runs[0]).to.include({ average: null, lastScore: null });
    const page = await fetch(`${srv.url}/api/runs/tennis__cli__1__1700000000/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(await page.json()).to.deep.equal({ rows: [], first: 0, next: 0, total: 0 });
  });

  it("refuses a foreign Host header on a localhost server (DNS rebinding)", async function () {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${srv.url}/api/runs`, { headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status("evil.example:8080")).to.equal(403);
    expect(await status(`localhost:${srv.port}`)).to.equal(200);
  });

  it("serves the dashboard with a content security policy, and 404/405 elsewhere", async function () {
    const page = await get("/");
    expect(page.status).to.equal(200);
    expect(page.headers.get("content-security-policy")).to.contain("default-src 'self'");
    expect(await page.text()).to.contain("<canvas");
    expect((await get("/app.js")).headers.get("content-type")).to.contain("javascript");
    expect((await get("/../package.json")).status).to.equal(404);
    expect((await get("/api/nothing")).status).to.equal(404);
    expect((await fetch(`${srv.url}/api/runs`, { method: "DELETE" })).status).to.equal(405);
  });
});

describe("server start-up", function () {
  const withEnv = async <T>(value: string | undefined, body: () => Promise<T>): Promise<T> => {
    const saved = process.env.TENNIS_TRAIN_TOKEN;
    if (value === undefined) delete process.env.TENNIS_TRAIN_TOKEN;
    else process.env.TENNIS_TRAIN_TOKEN = value;
    try {
      return await body();
    } finally {
      if (saved === undefined) delete process.env.TENNIS_TRAIN_TOKEN;
      else process.env.TENNIS_TRAIN_TOKEN = saved;
    }
  };
  const capture = async (start: () => Promise<RunningServer>) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(" "));
    try {
      const srv = await start();
      return { srv, text: lines.join("\n") };
    } finally {
      console.log = log;
    }
  };

  it("takes the token from TENNIS_TRAIN_TOKEN and does not print it", async function () {
    const runsDir = mkdtempSync(join(tmpdir(), "tennis-server-"));
    await withEnv("env-token-abcdefgh", async () => {
      const { srv, text } = await capture(() => runServe({ port: 0, runsDir }));
      try {
        expect(srv.token).to.equal("env-token-abcdefgh");
        expect(text).to.contain("TENNIS_TRAIN_TOKEN").and.not.to.contain("env-token-abcdefgh");
        const res = await fetch(`${srv.url}/api/runs`, { method: "POST", headers: { Authorization: "Bearer env-token-abcdefgh", "Content-Type": "application/json" }, body: "{\"train\": {\"episodes\": 0}}" });
        expect(res.status).to.equal(400);
      } finally {
        await srv.close();
      }
    });
    rmSync(runsDir, { recursive: true, force: true });
  });

  it("prints a fresh random token and the dashboard URL, on localhost by default", async function () {
    const runsDir = mkdtempSync(join(tmpdir(), "tennis-server-"));
    await withEnv(undefined, async () => {
      const first = await capture(() => runServe({ port: 0, runsDir }));
      const second = await capture(() => runServe({ port: 0, runsDir }));
      try {
        expect(first.srv.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(first.srv.token).to.have.length.at.least(20);
        expect(first.srv.token).not.to.equal(second.srv.token);
        expect(first.text).to.contain(`${first.srv.url}/#token=${first.srv.token}`);
        expect(process.listenerCount("SIGINT")).to.be.at.least(2);
      } finally {
        const before = process.listenerCount("SIGINT");
        await first.srv.close();
        await second.srv.close();
        expect(process.listenerCount("SIGINT")).to.equal(before - 2);
      }
    });
    rmSync(runsDir, { recursive: true, force: true });
  });

  it("refuses a token shorter than 8 characters", async function () {
    let message = "";
    await serve({ port: 0, token: "short", runsDir: tmpdir() }).catch((err: Error) => (message = err.message));
    expect(message).to.equal("The token must have at least 8 characters");
  });
});
