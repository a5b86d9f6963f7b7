// The dashboard: run list, new runs, live charts from the metric stream (Server-Sent Events), the
// run's config, summary and checkpoints, and a canvas replaying a greedy rally of the latest
// checkpoint in real time. In watch mode (`tennis-train watch`) only the rally is shown.
import { LineChart } from "./charts.js";
import { drawCourt, lerpFrame } from "./court.js";

const $ = (id) => document.getElementById(id);
const kTerminal = new Set(["finished", "stopped", "failed"]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The token comes in the URL fragment (never sent to the server in a request line) or is typed in;
// it stays in this tab's sessionStorage only.
const tokenInput = $("token");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  sessionStorage.setItem("tennis-train-token", fromHash);
  history.replaceState(null, "", location.pathname + location.search);
}
tokenInput.value = sessionStorage.getItem("tennis-train-token") ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem("tennis-train-token", tokenInput.value.trim()));

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if ((options.method ?? "GET") !== "GET") headers.Authorization = `Bearer ${tokenInput.value.trim()}`;
  const res = await fetch(path, { ...options, headers });
  const isJson = (res.headers.get("content-type") ?? "").includes("json");
  const body = isJson ? await res.json() : await res.text();
  if (!res.ok) {
    const err = new Error(isJson ? body.error : `${res.status} ${res.statusText}`);
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}

const charts = {
  score: new LineChart(
    $("chart-score"),
    [
      { key: "rollout/score", label: "score", color: "#7aa6e8", dots: true },
      { key: "rollout/score_mean100", label: "moving average", color: "#e67e22" },
    ],
    { title: "Score per episode (max over agents)" },
  ),
  loss: new LineChart(
    $("chart-loss"),
    [
      { key: "train/critic_loss", label: "critic", color: "#8e44ad" },
      { key: "train/actor_loss", label: "actor", color: "#16a085" },
    ],
    { title: "Losses" },
  ),
  q: new LineChart($("chart-q"), [{ key: "train/q_mean", label: "Q mean", color: "#2c3e50" }], { title: "Q estimate" }),
  diag: new LineChart(
    $("chart-diag"),
    [
      { key: "train/actor_grad_norm", label: "actor grad", color: "#27ae60" },
      { key: "train/critic_grad_norm", label: "critic grad", color: "#c0392b" },
      { key: "train/action_saturation", label: "saturation", color: "#7f8c8d" },
      { key: "rollout/noise_scale", label: "noise", color: "#f1c40f" },
    ],
    { title: "Diagnostics" },
  ),
};

const view = { mode: "serve", selected: null, source: null, selectGeneration: 0, rallyGeneration: 0, statusPending: false, runs: [] };

// ---- runs list ---------------------------------------------------------------------------------

async function refreshRuns() {
  try {
    const { runs } = await api("/api/runs");
    view.runs = runs;
    renderRuns();
    if (!view.selected && runs.length) selectRun(runs[runs.length - 1].id);
  } catch (err) {
    $("server-info").textContent = `server unreachable: ${err.message}`;
  }
}

function renderRuns() {
  const body = $("runs").tBodies[0];
  body.replaceChildren(
    ...[...view.runs].reverse().map((run) => {
      const tr = document.createElement("tr");
      tr.dataset.runId = run.id;
      tr.dataset.state = run.state;
      if (run.id === view.selected) tr.classList.add("selected");
      const cells = [run.id, run.state, run.episodes ?? "", run.average == null ? "" : run.average.toFixed(3)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = String(text);
        if (i === 0) {
          td.className = "id";
          td.title = run.id;
        }
        tr.append(td);
      });
      tr.addEventListener("click", () => selectRun(run.id));
      return tr;
    }),
  );
}

function showStatus(info) {
  $("run-state").textContent = info.state;
  $("run-state").className = `state ${info.state}`;
  $("stop").hidden = !(info.managed && (info.state === "running" || info.state === "queued"));
  const parts = [];
  if (info.queuePosition) parts.push(`queue position ${info.queuePosition}`);
  if (info.episodes != null) parts.push(`${info.episodes} episodes`);
  if (info.lastScore != null) parts.push(`last score ${info.lastScore.toFixed(2)}`);
  if (info.average != null) parts.push(`average ${info.average.toFixed(3)}`);
  if (info.error) parts.push(`error: ${info.error}`);
  $("run-status").textContent = parts.join(" · ");
  const row = view.runs.find((r) => r.id === info.id);
  if (row) Object.assign(row, info);
  renderRuns();
}

// ---- one run -----------------------------------------------------------------------------------

async function selectRun(id) {
  if (view.selected === id && view.source) return;
  // Every selection gets a number; an older one still awaiting its details must not open a stream.
  const generation = ++view.selectGeneration;
  view.source?.close();
  view.source = null;
  view.selected = id;
  Object.values(charts).forEach((chart) => chart.clear());
  $("run-title").textContent = id;
  renderRuns();
  await loadDetail(id);
  if (generation !== view.selectGeneration) return;
  const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  view.source = source;
  source.addEventListener("metrics", (e) => {
    const { rows } = JSON.parse(e.data);
    Object.values(charts).forEach((chart) => chart.add(rows));
  });
  source.addEventListener("status", (e) => {
    const info = JSON.parse(e.data);
    showStatus(info);
    if (kTerminal.has(info.state)) void loadDetail(id);
  });
  source.addEventListener("episode", (e) => {
    const ep = JSON.parse(e.data);
    const row = view.runs.find((r) => r.id === id);
    if (!row) return;
    Object.assign(row, { episodes: ep.episode, lastScore: ep.score, average: ep.average });
    // Fast runs report hundreds of episodes a second: redraw the status once per screen frame.
    if (!view.statusPending) {
      view.statusPending = true;
      requestAnimationFrame(() => {
        view.statusPending = false;
        if (view.selected === id) showStatus(row);
      });
    }
  });
  startRally(`/api/runs/${encodeURIComponent(id)}/replay`, () => void loadDetail(id));
}

async function loadDetail(id) {
  try {
    const detail = await api(`/api/runs/${encodeURIComponent(id)}`);
    if (view.selected !== id) return;
    showStatus(detail);
    charts.score.options.reference = { value: detail.config.train.targetScore, label: "target" };
    $("config").textContent = JSON.stringify(detail.config, null, 2);
    $("summary").textContent = detail.summary ? JSON.stringify(detail.summary, null, 2) : "not finished yet";
    const list = $("checkpoints");
    list.replaceChildren(
      ...detail.checkpoints.map((checkpoint) => {
        const li = document.createElement("li");
        li.append(`${checkpoint.name}: `);
        for (const file of checkpoint.files) {
          const a = document.createElement("a");
          a.href = `/api/runs/${encodeURIComponent(id)}/checkpoints/${encodeURIComponent(checkpoint.name)}/${encodeURIComponent(file.name)}`;
          a.download = "";
          a.textContent = `${file.name} (${(file.bytes / 1024).toFixed(0)} KiB)`;
          li.append(a, " ");
        }
        return li;
      }),
    );
    if (detail.files.includes("scores.png")) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/api/runs/${encodeURIComponent(id)}/files/scores.png`;
      a.textContent = "scores.png";
      a.target = "_blank";
      li.append(a);
      list.append(li);
    }
  } catch (err) {
    $("run-status").textContent = `cannot load run: ${err.message}`;
  }
}

$("stop").addEventListener("click", async () => {
  try {
    showStatus(await api(`/api/runs/${encodeURIComponent(view.selected)}/stop`, { method: "POST", body: "{}" }));
  } catch (err) {
    $("run-status").textContent = `stop failed: ${err.message}`;
  }
});

$("start").addEventListener("click", async () => {
  const errors = $("start-errors");
  errors.replaceChildren();
  const say = (text) => {
    const li = document.createElement("li");
    li.textContent = text;
    errors.append(li);
  };
  let config;
  try {
    config = JSON.parse($("new-config").value);
  } catch (err) {
    return say(`Not valid JSON: ${err.message}`);
  }
  try {
    const run = await api("/api/runs", { method: "POST", body: JSON.stringify(config) });
    await selectRun(run.id);
    await refreshRuns();
  } catch (err) {
    say(err.message);
    for (const problem of err.body?.problems ?? []) say(problem);
  }
});

// ---- rally replay ------------------------------------------------------------------------------

const rallyCanvas = $("rally");
const rallyCtx = rallyCanvas.getContext("2d");
drawCourt(rallyCtx, null);

/**
 * Replays greedy episodes of the latest checkpoint, one after another, each in real time;
 * `onCheckpoint` is called when a newer checkpoint than the last one played appears.
 */
function startRally(url, onCheckpoint = () => {}) {
  const generation = ++view.rallyGeneration;
  let lastCheckpoint = null;
  void (async () => {
    for (let n = 0; generation === view.rallyGeneration; n++) {
      let replay;
      try {
        replay = await api(n === 0 ? url : `${url}?seed=${n}`);
      } catch (err) {
        $("rally-info").textContent = err.status === 404 ? "waiting for the first checkpoint..." : `replay failed: ${err.message}`;
        if (generation === view.rallyGeneration) drawCourt(rallyCtx, null);
        await sleep(err.status === 404 ? 2000 : 5000);
        n -= 1;
        continue;
      }
      if (generation !== view.rallyGeneration) return;
      $("rally-info").textContent = `${replay.checkpoint}, seed ${replay.seed}: ${replay.frames.length - 1} steps, score ${replay.score.toFixed(2)}`;
      rallyCanvas.dataset.checkpoint = replay.checkpoint;
      if (replay.checkpoint !== lastCheckpoint) {
        lastCheckpoint = replay.checkpoint;
        onCheckpoint(replay.checkpoint);
      }
      await play(replay, generation);
      await sleep(700);
    }
  })();
}

function play(replay, generation) {
  return new Promise((resolve) => {
    const start = performance.now();
    const last = replay.frames.length - 1;
    const tick = (now) => {
      if (generation !== view.rallyGeneration) return resolve();
      // A frame's timestamp can precede the moment play() started: clamp, or frame -1 is read.
      const f = Math.max(0, (now - start) / 1000 / replay.dt);
      const i = Math.min(last, Math.floor(f));
      const frame = i >= last ? replay.frames[last] : lerpFrame(replay.frames[i], replay.frames[i + 1], f - i);
      drawCourt(rallyCtx, frame, `${replay.checkpoint} · seed ${replay.seed} · ${(i * replay.dt).toFixed(1)} s of ${(last * replay.dt).toFixed(1)} s`, i);
      rallyCanvas.dataset.framesDrawn = String(Number(rallyCanvas.dataset.framesDrawn) + 1);
      if (i >= last) return resolve();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

// ---- start -------------------------------------------------------------------------------------

async function main() {
  const health = await api("/api/health");
  view.mode = health.mode ?? "serve";
  $("server-info").textContent = `v${health.version}${health.mode === "watch" ? ` · watching ${health.checkpoint}` : ` · ${health.maxConcurrent} run(s) at once`}`;
  if (view.mode === "watch") {
    document.body.classList.add("watch");
    startRally("/api/replay");
    return;
  }
  await refreshRuns();
  setInterval(refreshRuns, 2000);
}

void main();
