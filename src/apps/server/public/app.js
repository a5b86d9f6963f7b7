// The dashboard: a sortable table of runs (results and the hyperparameters that differ between them),
// new runs, charts of any logged scalar tag that overlay the ticked runs (smoothing, log scale), the
// selected run's config, summary and checkpoints, and a canvas replaying a greedy rally of its latest
// checkpoint in real time. The selected run's metrics arrive over its event stream; other ticked
// runs' metrics are read a page at a time. In watch mode (`tennis-train watch`) only the rally is shown.
import { configDifferences, etaSeconds, flatten, formatBytes, formatDuration, formatNumber, pick } from "./chart-math.js";
import { LineChart } from "./charts.js";
import { drawCourt, lerpFrame } from "./court.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const kTerminal = new Set(["finished", "stopped", "failed"]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Line colours of the runs on a chart, in the order runs first appear. */
const kPalette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
/** Tags of self-play runs (competitive mode), charted too until the user picks tags, once a run logs them. */
const kSelfPlayTags = ["selfplay/elo", "selfplay/win_rate100", "eval/win_rate_vs_random", "eval/win_rate_vs_first", "eval/win_rate_vs_scripted"];
/** The Elo rating of a self-play run's first snapshot, which anchors its learner's rating (src/lib/compete/opponent-pool.ts). */
const kInitialElo = 1200;
/** Tags charted until the user picks others (the self-play ones once a run logs them), in chart order. */
const kDefaultTags = ["rollout/score_mean100", "rollout/score", "train/critic_loss", "train/actor_loss", ...kSelfPlayTags];
/** Tags whose chart shows the run's target score. */
const kScoreTags = new Set(["rollout/score", "rollout/score_mean100"]);
/** Rows asked for per metrics page (the API's largest page). */
const kPageRows = 5000;
const kStored = { token: "tennis-train-token", tags: "tennis-train-tags", smoothing: "tennis-train-smoothing", log: "tennis-train-log", xAxis: "tennis-train-x-axis" };
/** The metrics key of the env steps so far, an x axis the charts offer beside the episode. */
const kEnvStepsKey = "time/env_steps";

// The token comes in the URL fragment (never sent to the server in a request line) or is typed in;
// it stays in this tab's sessionStorage only.
const tokenInput = $("token");
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) {
  sessionStorage.setItem(kStored.token, fromHash);
  history.replaceState(null, "", location.pathname + location.search);
}
tokenInput.value = sessionStorage.getItem(kStored.token) ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem(kStored.token, tokenInput.value.trim()));

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

function storedJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

const view = {
  mode: "serve",
  selected: null,
  source: null,
  selectGeneration: 0,
  rallyGeneration: 0,
  statusPending: false,
  runs: [],
  /** Ids of the ticked runs, charted beside the selected one. */
  compared: new Set(),
  /** id -> {next: rows held, tags: Map(tag -> [[step, value, env steps]]), loading, complete} */
  metrics: new Map(),
  /** id -> resolved config (read once per run) */
  configs: new Map(),
  configsLoading: false,
  defaults: null,
  colors: new Map(),
  /** Every scalar tag seen in the rows held, and the charted ones. */
  allTags: new Set(),
  tags: new Set(storedJson(kStored.tags, kDefaultTags.filter((t) => !kSelfPlayTags.includes(t)))),
  smoothing: Number(storedJson(kStored.smoothing, 0.6)),
  log: storedJson(kStored.log, false) === true,
  /** "step" (the episode) or "env_steps". */
  xAxis: storedJson(kStored.xAxis, "step") === "env_steps" ? "env_steps" : "step",
  charts: new Map(),
  chartsPending: false,
  sort: { key: "created", dir: -1 },
};

const shortId = (id) => id.replace(/^tennis__/, "");
function colorOf(id) {
  if (!view.colors.has(id)) view.colors.set(id, kPalette[view.colors.size % kPalette.length]);
  return view.colors.get(id);
}

// ---- metrics held per run ----------------------------------------------------------------------

function runMetrics(id) {
  let m = view.metrics.get(id);
  if (!m) {
    m = { next: 0, tags: new Map(), loading: null, complete: false };
    view.metrics.set(id, m);
  }
  return m;
}

/** Adds rows [first, first + rows.length) of a run; rows already held (a page read twice) are skipped. */
function addRows(id, first, rows) {
  const m = runMetrics(id);
  if (first > m.next) return;
  let newTag = false;
  for (const row of rows.slice(m.next - first)) {
    const envSteps = typeof row[kEnvStepsKey] === "number" ? row[kEnvStepsKey] : NaN;
    for (const [tag, value] of Object.entries(row)) {
      if (tag === "step" || typeof value !== "number") continue;
      let points = m.tags.get(tag);
      if (!points) {
        m.tags.set(tag, (points = []));
        if (!view.allTags.has(tag)) {
          view.allTags.add(tag);
          newTag = true;
          if (kSelfPlayTags.includes(tag) && localStorage.getItem(kStored.tags) === null) view.tags.add(tag);
        }
      }
      points.push([row.step, value, envSteps]);
    }
  }
  m.next = Math.max(m.next, first + rows.length);
  if (newTag) {
    renderTagPicker();
    renderCharts();
  }
  scheduleCharts();
}

/** Reads a run's rows past those held, a page at a time, until the last one written. */
function loadPages(id) {
  const m = runMetrics(id);
  m.loading ??= (async () => {
    for (;;) {
      const page = await api(`/api/runs/${enc(id)}/metrics?from=${m.next}&limit=${kPageRows}`);
      addRows(id, page.first, page.rows);
      if (page.rows.length === 0 || page.next >= page.total) return;
    }
  })()
    .catch((err) => ($("run-status").textContent = `cannot read metrics of ${id}: ${err.message}`))
    .finally(() => (m.loading = null));
  return m.loading;
}

/** The ticked runs that are not the selected one: new rows of running ones are read on each refresh. */
function refreshComparedMetrics() {
  for (const id of view.compared) {
    if (id === view.selected) continue;
    const run = view.runs.find((r) => r.id === id);
    const m = runMetrics(id);
    if (m.complete) continue;
    // A run that has ended is read once more, to its last row.
    if (run && kTerminal.has(run.state)) m.complete = true;
    void loadPages(id);
  }
}

// ---- charts ------------------------------------------------------------------------------------

function chartedRuns() {
  const ids = [...view.compared];
  if (view.selected && !view.compared.has(view.selected)) ids.unshift(view.selected);
  return ids;
}

/** Default tags first in their order, then the rest by name. */
function orderTags(tags) {
  const rank = (t) => (kDefaultTags.includes(t) ? kDefaultTags.indexOf(t) : kDefaultTags.length);
  return [...tags].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function renderCharts() {
  for (const [tag, chart] of view.charts) {
    if (view.tags.has(tag)) continue;
    view.charts.delete(tag);
    chart.canvas.remove();
  }
  for (const tag of view.tags) {
    if (view.charts.has(tag)) continue;
    const canvas = document.createElement("canvas");
    canvas.className = "chart";
    canvas.dataset.tag = tag;
    view.charts.set(tag, new LineChart(canvas, { title: tag }));
  }
  $("charts").replaceChildren(...orderTags(view.tags).map((tag) => view.charts.get(tag).canvas));
  scheduleCharts();
}

function scheduleCharts() {
  if (view.chartsPending) return;
  view.chartsPending = true;
  requestAnimationFrame(() => {
    view.chartsPending = false;
    updateCharts();
  });
}

function updateCharts() {
  const ids = chartedRuns();
  const target = pick(view.configs.get(view.selected), "train.targetScore");
  for (const [tag, chart] of view.charts) {
    chart.options.log = view.log;
    chart.options.smoothing = view.smoothing;
    chart.options.reference =
      tag === "selfplay/elo" ? { value: kInitialElo, label: "first snapshot" }
      : kScoreTags.has(tag) && typeof target === "number" ? { value: target, label: "target" } : undefined;
    chart.setSeries(ids.map((id) => ({ id, label: shortId(id), color: colorOf(id), points: onXAxis(view.metrics.get(id)?.tags.get(tag) ?? []) })));
  }
}

/** Points as [x, value] on the chosen x axis; rows without env steps have no place on that axis. */
function onXAxis(points) {
  if (view.xAxis === "step") return points;
  return points.filter((p) => Number.isFinite(p[2])).map(([, value, envSteps]) => [envSteps, value]);
}

/** Checkboxes for every tag seen (and every one charted), grouped by namespace (rollout/, train/, ...). */
function renderTagPicker() {
  const groups = new Map();
  for (const tag of orderTags(new Set([...view.allTags, ...view.tags])).sort()) {
    const group = tag.includes("/") ? tag.slice(0, tag.indexOf("/")) : "other";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(tag);
  }
  $("tags").replaceChildren(
    ...[...groups].map(([group, tags]) => {
      const fieldset = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = group;
      fieldset.append(legend);
      for (const tag of tags) {
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.value = tag;
        box.checked = view.tags.has(tag);
        box.addEventListener("change", () => {
          if (box.checked) view.tags.add(tag);
          else view.tags.delete(tag);
          localStorage.setItem(kStored.tags, JSON.stringify([...view.tags]));
          renderCharts();
        });
        label.append(box, tag.slice(tag.indexOf("/") + 1));
        label.title = tag;
        fieldset.append(label);
      }
      return fieldset;
    }),
  );
}

const smoothingInput = $("smoothing");
smoothingInput.value = String(view.smoothing);
$("smoothing-value").textContent = view.smoothing.toFixed(2);
smoothingInput.addEventListener("input", () => {
  view.smoothing = Number(smoothingInput.value);
  $("smoothing-value").textContent = view.smoothing.toFixed(2);
  localStorage.setItem(kStored.smoothing, JSON.stringify(view.smoothing));
  scheduleCharts();
});
const xAxisInput = $("x-axis");
xAxisInput.value = view.xAxis;
xAxisInput.addEventListener("change", () => {
  view.xAxis = xAxisInput.value;
  localStorage.setItem(kStored.xAxis, JSON.stringify(view.xAxis));
  scheduleCharts();
});
const logInput = $("log-scale");
logInput.checked = view.log;
logInput.addEventListener("change", () => {
  view.log = logInput.checked;
  localStorage.setItem(kStored.log, JSON.stringify(view.log));
  scheduleCharts();
});

// ---- runs table --------------------------------------------------------------------------------

async function refreshRuns() {
  try {
    const { runs } = await api("/api/runs");
    view.runs = runs;
    renderRuns();
    if (!view.selected && runs.length) void selectRun(runs[runs.length - 1].id);
    refreshComparedMetrics();
    void loadConfigs();
  } catch (err) {
    $("server-info").textContent = `server unreachable: ${err.message}`;
  }
}

/** Reads the config of each listed run not read yet (one request at a time), then redraws the table. */
async function loadConfigs() {
  if (view.configsLoading) return;
  view.configsLoading = true;
  try {
    for (const run of view.runs) {
      if (view.configs.has(run.id)) continue;
      try {
        view.configs.set(run.id, await api(`/api/runs/${enc(run.id)}/files/config.json`));
      } catch {
        view.configs.set(run.id, null);
      }
    }
  } finally {
    view.configsLoading = false;
  }
  renderRuns();
  scheduleCharts();
}

/** Seconds until a running run reaches its episode budget at its rate so far (an upper bound). */
function etaOf(run) {
  if (run.state !== "running" || !run.startedAt) return null;
  const budget = pick(view.configs.get(run.id), "train.episodes");
  return etaSeconds({ episodes: run.episodes, budget, elapsedS: (Date.now() - Date.parse(run.startedAt)) / 1000 });
}

/** An ETA as an upper bound; 0 is a run past its last episode (final evaluation, summary). */
const formatEta = (seconds) => (seconds > 0 ? `≤ ${formatDuration(seconds)}` : "finishing");

const kFixedColumns = [
  { key: "run", label: "run", value: (r) => r.id },
  { key: "state", label: "state", value: (r) => r.state },
  { key: "episodes", label: "episodes", value: (r) => r.episodes, title: "episodes finished" },
  { key: "average", label: "avg100", value: (r) => r.average, format: (v) => v.toFixed(3), title: "moving average of the score (the trainer's window) at the last episode" },
  { key: "solved", label: "solved at", value: (r) => r.summary?.episodes_to_solve ?? (r.summary ? Infinity : null), format: (v) => (v === Infinity ? "not solved" : String(v)), title: "episodes to solve" },
  { key: "eval", label: "final eval", value: (r) => r.summary?.final_eval?.mean ?? null, format: (v) => v.toFixed(3), title: "mean score of the final greedy evaluation" },
  { key: "wall", label: "wall", value: (r) => r.summary?.wall_s ?? null, format: formatDuration, title: "wall time of the whole run" },
  { key: "eta", label: "ETA", value: etaOf, format: formatEta, title: "time to the episode budget at the run's rate so far; a run stops earlier once solved" },
  { key: "created", label: "created", value: (r) => r.createdAt, format: (v) => new Date(v).toLocaleTimeString(), hidden: true },
];

function columns() {
  const configs = view.runs.map((r) => view.configs.get(r.id)).filter(Boolean);
  const differing = configDifferences(configs).map((key) => ({
    key: `config:${key}`,
    label: key.slice(key.indexOf(".") + 1),
    title: `config ${key} (differs between runs)`,
    value: (r) => pick(view.configs.get(r.id), key) ?? null,
    format: (v) => (typeof v === "number" ? formatNumber(v) : Array.isArray(v) ? v.join("×") : String(v)),
    hyper: true,
  }));
  return [...kFixedColumns.filter((c) => !c.hidden), ...differing];
}

function compareValues(a, b) {
  if (a === b) return 0;
  if (a == null) return 1;
  if (b == null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return JSON.stringify(a).localeCompare(JSON.stringify(b), undefined, { numeric: true });
}

function renderRuns() {
  const cols = columns();
  const sortColumn = [...cols, ...kFixedColumns].find((c) => c.key === view.sort.key) ?? kFixedColumns.at(-1);
  const head = $("runs").tHead.rows[0];
  head.replaceChildren(
    Object.assign(document.createElement("th"), { textContent: "compare", title: "tick to chart this run beside the selected one" }),
    ...cols.map((c) => {
      const th = document.createElement("th");
      th.textContent = c.label + (c.key === view.sort.key ? (view.sort.dir > 0 ? " ▲" : " ▼") : "");
      th.dataset.key = c.key;
      if (c.title) th.title = c.title;
      if (c.hyper) th.className = "hyper";
      th.addEventListener("click", () => {
        view.sort = { key: c.key, dir: view.sort.key === c.key ? -view.sort.dir : 1 };
        renderRuns();
      });
      return th;
    }),
  );
  const rows = [...view.runs].sort((a, b) => {
    const [va, vb] = [sortColumn.value(a), sortColumn.value(b)];
    // Missing values go last whichever way the column is sorted.
    if (va == null || vb == null) return compareValues(va, vb);
    return view.sort.dir * compareValues(va, vb);
  });
  $("runs").tBodies[0].replaceChildren(...rows.map((run) => runRow(run, cols)));
}

function runRow(run, cols) {
  const tr = document.createElement("tr");
  tr.dataset.runId = run.id;
  tr.dataset.state = run.state;
  if (run.id === view.selected) tr.classList.add("selected");
  const tick = document.createElement("td");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.className = "compare";
  box.checked = view.compared.has(run.id);
  box.addEventListener("click", (e) => e.stopPropagation());
  box.addEventListener("change", () => {
    if (box.checked) view.compared.add(run.id);
    else view.compared.delete(run.id);
    refreshComparedMetrics();
    renderRuns();
    scheduleCharts();
  });
  tick.append(box);
  if (view.compared.has(run.id) || run.id === view.selected) tick.style.borderLeft = `4px solid ${colorOf(run.id)}`;
  tr.append(tick);
  for (const c of cols) {
    const td = document.createElement("td");
    const v = c.value(run);
    td.textContent = v == null ? "" : c.format ? c.format(v) : String(v);
    td.dataset.key = c.key;
    if (c.key === "run") {
      td.className = "id";
      td.title = run.id;
      td.textContent = shortId(run.id);
    } else if (c.key === "state") {
      td.className = `state-cell ${run.state}`;
    }
    tr.append(td);
  }
  tr.addEventListener("click", () => selectRun(run.id));
  return tr;
}

function showStatus(info) {
  const row = view.runs.find((r) => r.id === info.id);
  if (row) Object.assign(row, info);
  $("run-state").textContent = info.state;
  $("run-state").className = `state ${info.state}`;
  $("stop").hidden = !(info.managed && (info.state === "running" || info.state === "queued"));
  const parts = [];
  if (info.queuePosition) parts.push(`queue position ${info.queuePosition}`);
  if (info.episodes != null) parts.push(`${info.episodes} episodes`);
  if (info.lastScore != null) parts.push(`last score ${info.lastScore.toFixed(2)}`);
  if (info.average != null) parts.push(`average ${info.average.toFixed(3)}`);
  const eta = etaOf(row ?? info);
  if (eta != null) parts.push(`ETA ${formatEta(eta)} (to the episode budget; sooner once solved)`);
  if (info.error) parts.push(`error: ${info.error}`);
  $("run-status").textContent = parts.join(" · ");
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
  $("run-title").textContent = id;
  renderRuns();
  scheduleCharts();
  await loadDetail(id);
  if (generation !== view.selectGeneration) return;
  // The stream starts after the rows already held (this run may have been charted for comparison).
  const source = new EventSource(`/api/runs/${enc(id)}/events?from=${runMetrics(id).next}`);
  view.source = source;
  source.addEventListener("metrics", (e) => {
    const { first, rows } = JSON.parse(e.data);
    addRows(id, first, rows);
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
  const latest = async () => (await api(`/api/runs/${enc(id)}/checkpoints`)).latest;
  startRally(`/api/runs/${enc(id)}/replay`, { latest, onCheckpoint: () => void loadDetail(id) });
}

async function loadDetail(id) {
  try {
    const detail = await api(`/api/runs/${enc(id)}`);
    if (view.selected !== id) return;
    view.configs.set(id, detail.config);
    showStatus(detail);
    scheduleCharts();
    renderSummary(detail.summary);
    renderConfig(detail.config);
    renderCheckpoints(id, detail);
  } catch (err) {
    $("run-status").textContent = `cannot load run: ${err.message}`;
  }
}

/** A two-column table of [key, text] pairs; `strong(key)` marks rows to set in bold. */
function keyValueTable(pairs, { strong = () => false, title = () => "" } = {}) {
  const table = document.createElement("table");
  table.className = "kv";
  for (const [key, text] of pairs) {
    const tr = table.insertRow();
    const th = document.createElement("th");
    th.textContent = key;
    const td = tr.insertCell();
    tr.prepend(th);
    td.textContent = text;
    if (strong(key)) tr.classList.add("changed");
    const tip = title(key);
    if (tip) tr.title = tip;
  }
  return table;
}

function formatLeaf(v) {
  if (typeof v === "number") return formatNumber(v);
  if (Array.isArray(v)) return v.map(formatLeaf).join(", ");
  if (v === null) return "–";
  return String(v);
}

/** The headline (solved when, final evaluation) and every summary field as a table. */
function renderSummary(summary) {
  const el = $("summary");
  if (!summary) {
    el.className = "muted";
    el.textContent = "not finished yet";
    return;
  }
  el.className = "";
  const lines = [];
  if (summary.solved === true) {
    const at = summary.at_solve;
    lines.push(`Solved at episode ${summary.episodes_to_solve}${at ? ` after ${formatDuration(at.wall_s)} (${at.env_steps} env steps, ${at.updates} updates)` : ""}.`);
  } else if (summary.solved === false) {
    lines.push(`Not solved after ${summary.episodes} episodes (best 100-episode average ${formatLeaf(summary.best_avg100 ?? null)}).`);
  }
  const ev = summary.final_eval;
  if (ev) lines.push(`Final greedy evaluation: ${ev.mean.toFixed(3)} over ${ev.episodes} episodes (min ${formatLeaf(ev.min)}, max ${formatLeaf(ev.max)}).`);
  const headline = document.createElement("p");
  headline.className = "headline";
  headline.textContent = lines.join(" ");
  el.replaceChildren(headline, keyValueTable(flatten(summary).map(([key, value]) => [key, key === "wall_s" || key.endsWith(".wall_s") ? `${formatLeaf(value)} (${formatDuration(value)})` : formatLeaf(value)])));
}

/** The config's values that differ from the defaults (the default in each row's tooltip), then every
 *  value in a folded table with those in bold. */
function renderConfig(config) {
  const defaults = new Map(flatten(view.defaults ?? {}).map(([k, v]) => [k, JSON.stringify(v)]));
  const pairs = flatten(config).map(([key, value]) => [key, formatLeaf(value), JSON.stringify(value)]);
  const differs = new Set(pairs.filter(([key, , json]) => view.defaults && defaults.get(key) !== json).map(([key]) => key));
  const title = (key) => (differs.has(key) && defaults.has(key) ? `default: ${defaults.get(key)}` : "");
  const changed = keyValueTable(pairs.filter(([key]) => differs.has(key)), { title });
  const all = document.createElement("details");
  const fold = document.createElement("summary");
  fold.textContent = `all ${pairs.length} settings`;
  all.append(fold, keyValueTable(pairs, { strong: (key) => differs.has(key), title }));
  $("config").replaceChildren(changed, all);
}

/** One line per complete checkpoint: its files with sizes (the COMPLETE marker left out), then scores.png. */
function renderCheckpoints(id, detail) {
  const list = $("checkpoints");
  list.replaceChildren(
    ...[...detail.checkpoints].reverse().map((checkpoint) => {
      const li = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = checkpoint.name;
      li.append(name, checkpoint.name === detail.latestCheckpoint ? " (latest): " : ": ");
      for (const file of checkpoint.files.filter((f) => f.name !== "COMPLETE")) {
        const a = document.createElement("a");
        a.href = `/api/runs/${enc(id)}/checkpoints/${enc(checkpoint.name)}/${enc(file.name)}`;
        a.download = "";
        a.textContent = file.name;
        const size = document.createElement("span");
        size.className = "muted";
        size.textContent = ` ${formatBytes(file.bytes)}`;
        li.append(a, size, " ");
      }
      return li;
    }),
  );
  if (detail.files.includes("scores.png")) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `/api/runs/${enc(id)}/files/scores.png`;
    a.textContent = "scores.png";
    a.target = "_blank";
    li.append(a);
    list.prepend(li);
  }
}

$("stop").addEventListener("click", async () => {
  try {
    showStatus(await api(`/api/runs/${enc(view.selected)}/stop`, { method: "POST", body: "{}" }));
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
 * Replays greedy episodes of the latest checkpoint, one after another, each in real time. `latest`
 * (when given) names the latest checkpoint or null: the replay is asked for only once there is one,
 * so a new run does not answer 404s. `onCheckpoint` is called when a newer checkpoint than the last
 * one played appears.
 */
function startRally(url, { latest = null, onCheckpoint = () => {} } = {}) {
  const generation = ++view.rallyGeneration;
  let lastCheckpoint = null;
  // The canvas's counters describe the rally of this url only.
  rallyCanvas.dataset.framesDrawn = "0";
  delete rallyCanvas.dataset.checkpoint;
  const wait = async (text, ms) => {
    $("rally-info").textContent = text;
    if (generation === view.rallyGeneration) drawCourt(rallyCtx, null);
    await sleep(ms);
  };
  void (async () => {
    for (let n = 0; generation === view.rallyGeneration; n++) {
      let replay;
      try {
        if (latest && !(await latest())) {
          await wait("waiting for the first checkpoint...", 2000);
          n -= 1;
          continue;
        }
        replay = await api(n === 0 ? url : `${url}?seed=${n}`);
      } catch (err) {
        await wait(err.status === 404 ? "waiting for the first checkpoint..." : `replay failed: ${err.message}`, err.status === 404 ? 2000 : 5000);
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
  view.defaults = await api("/api/defaults");
  renderTagPicker();
  renderCharts();
  await refreshRuns();
  setInterval(refreshRuns, 2000);
}

void main();
