// boocode's trace viewer: runs, phases, agents, transcripts and inference calls, live over Server-Sent
// Events, with the cache-shape badge on every call and every sum of calls. Plain ES modules, no build step.

const app = document.getElementById("app");
const liveDot = document.getElementById("live");
let cleanup = () => {};

// --- helpers --------------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Replaces `el`'s children (null, undefined and false are skipped, arrays flattened).
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    ...options,
  });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = body && body.detail;
    throw new Error(typeof detail === "string" ? detail : `${response.status} ${response.statusText}`);
  }
  return body;
}

const count = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const pill = (status) => h("span", { class: `pill ${status}` }, status);
const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

function tokens(usage) {
  return h("span", { class: "tokens", title: "input / output tokens" },
    `${count(usage.input_tokens)} in / ${count(usage.output_tokens)} out`);
}

// Calls `fn` at most once per `ms`, and once more after the last request (for bursts of events).
function throttled(fn, ms = 400) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(function tick() {
      if (again) { again = false; fn(); timer = setTimeout(tick, ms); } else timer = null;
    }, ms);
  };
}

// Follows an SSE stream; `onOpen` runs at each (re)connection, once the server has fixed where it starts.
function follow(url, onEvent, onEnd, onOpen) {
  const source = new EventSource(url);
  source.onopen = () => { liveDot.classList.add("on"); onOpen && onOpen(); };
  source.onerror = () => liveDot.classList.remove("on");
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.addEventListener("end", () => { source.close(); liveDot.classList.remove("on"); onEnd && onEnd(); });
  return () => { source.close(); liveDot.classList.remove("on"); };
}

// --- the cache-shape badge ------------------------------------------------------------------------------

// A bar split into cache read / cache write / uncached input of `shape` (a CacheShapeOut: sums over one or
// many calls), labelled with the read share, exact counts on hover, red (cold) to green (warm). "n/a" when
// no call reported cache figures; "*" when only some did (the bar covers those that did).
export function cacheBadge(shape) {
  const data = {
    read: shape.cache_read, write: shape.cache_write, uncached: shape.uncached,
    input: shape.input_tokens, calls: shape.calls, reported: shape.reported_calls,
    unreported: shape.unreported_input, label: shape.label,
  };
  if (shape.read_share === null) {
    const why = shape.calls === 0 ? "no calls with usage yet" : "the provider did not report cache figures";
    return h("span", { class: "badge na", title: `cache: n/a (${why})`, dataset: data },
      h("span", { class: "bar" }), h("span", { class: "pct" }, "n/a"));
  }
  const total = Math.max(shape.input_tokens, 1);
  const width = (n) => `${((100 * n) / total).toFixed(2)}%`;
  const hue = Math.round(120 * shape.read_share);
  let title = `cache read ${count(shape.cache_read)} + write ${count(shape.cache_write)} + ` +
    `uncached ${count(shape.uncached)} = ${count(shape.input_tokens)} input tokens` +
    ` (${count(shape.calls)} call${shape.calls === 1 ? "" : "s"})`;
  if (shape.reported_calls < shape.calls) {
    title += `; cache figures from ${shape.reported_calls} of ${shape.calls} calls, ` +
      `${count(shape.unreported_input)} more input tokens unreported`;
  }
  return h("span", { class: "badge", title, dataset: { ...data, share: shape.read_share } },
    h("span", { class: "bar" },
      h("span", { class: "seg read", style: `width:${width(shape.cache_read)};background:hsl(${hue} 65% 45%)` }),
      h("span", { class: "seg write", style: `width:${width(shape.cache_write)}` }),
      h("span", { class: "seg uncached", style: `width:${width(shape.uncached)}` })),
    h("span", { class: "pct", style: `color:hsl(${hue} 70% 32%)` }, shape.label));
}

// --- views ----------------------------------------------------------------------------------------------

function table(headers, rows, empty = "none yet") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function failure(error) {
  fill(app, h("p", { class: "error" }, String(error.message || error)));
}

async function runsView() {
  const list = h("section", { id: "runs" });
  const form = await startForm();
  fill(app, h("h1", {}, "Runs"), form, list);
  const refresh = async () => {
    const runs = await api("/api/runs?limit=100");
    fill(list, table(
      ["run", "workflow", "status", "agents", "tokens", "elapsed", "cache", "started"],
      runs.map((r) => h("tr", { class: "run-row", dataset: { run: r.id } },
        h("td", {}, h("a", { href: `#/runs/${r.id}` }, r.id)),
        h("td", {}, r.name),
        h("td", {}, pill(r.status)),
        h("td", { class: "agents-count" }, `${r.agents_done}/${r.agents_total}`,
          r.agents_failed ? h("span", { class: "failed-count" }, ` (${r.agents_failed} failed)`) : null),
        h("td", {}, tokens(r.usage)),
        h("td", {}, seconds(r.elapsed_seconds)),
        h("td", {}, cacheBadge(r.usage.cache)),
        h("td", { class: "muted" }, when(r.started_at)))),
      "No runs yet: start one above or with `boocode run`."));
  };
  await refresh();
  const update = throttled(() => refresh().catch(failure), 700);
  return follow("/api/events", update, null, update);
}

async function startForm() {
  const workflows = (await api("/api/workflows")).filter((w) => !w.error && !w.shadowed);
  const select = h("select", { name: "workflow" }, workflows.map((w) => h("option", { value: w.name }, w.name)));
  const args = h("input", { name: "args", placeholder: "args as JSON (optional)", size: 40 });
  const note = h("span", { class: "muted" });
  const start = async (event) => {
    event.preventDefault();
    const body = { workflow: select.value };
    if (args.value.trim()) {
      try { body.args = JSON.parse(args.value); } catch (e) { note.textContent = `args: ${e.message}`; return; }
    }
    note.textContent = "starting…";
    try {
      const started = await api("/api/runs", { method: "POST", body: JSON.stringify(body) });
      location.hash = `#/runs/${started.run_id}`;
    } catch (e) { note.textContent = e.message; }
  };
  return h("form", { class: "start", onsubmit: start }, "Start ", select, " ", args, " ",
    h("button", { type: "submit" }, "Start run"), " ", note);
}

async function runView(runId) {
  const head = h("section", { id: "run-head" });
  const phases = h("section", { id: "phases" });
  const agents = h("section", { id: "agents" });
  const logs = h("section", { id: "logs" });
  fill(app, head, h("h2", {}, "Phases"), phases, h("h2", {}, "Agents"), agents, logs);
  let stopFollowing = () => {};
  let following = false;
  const load = async () => {
    const run = await api(`/api/runs/${runId}`);  // first: its last_event_id predates the agents read next
    const list = await api(`/api/runs/${runId}/agents`);
    renderRunHead(head, run, { stop: () => stop(run), resume: () => resume(run) });
    fill(phases, table(["phase", "agents", "tokens", "elapsed", "cache"],
      run.phases.map((p) => h("tr", { class: "phase-row" },
        h("td", {}, p.phase ?? "(no phase)"), h("td", {}, `${p.finished}/${p.agents}`),
        h("td", {}, tokens(p.usage)), h("td", {}, seconds(p.elapsed_seconds)), h("td", {}, cacheBadge(p.usage.cache))))));
    fill(agents, table(
      ["#", "agent", "phase", "status", "model", "tokens", "tool calls", "elapsed", "cache"],
      list.map((a) => h("tr", { class: "agent-row", dataset: { agent: a.id, label: a.label } },
        h("td", {}, a.idx), h("td", {}, h("a", { href: `#/agents/${a.id}` }, a.label)),
        h("td", {}, a.phase ?? ""), h("td", {}, pill(a.status), a.cached ? h("span", { class: "muted" }, " cached") : null),
        h("td", {}, a.model ?? ""), h("td", {}, tokens(a.usage)), h("td", {}, a.tool_calls),
        h("td", {}, seconds(a.elapsed_seconds)), h("td", {}, cacheBadge(a.usage.cache)))),
      "No agents yet."));
    fill(logs,
      h("h2", {}, "Log"), run.logs.length ? h("pre", { class: "log" }, run.logs.join("\n")) : h("p", { class: "muted" }, "No log lines."),
      run.failures.length ? h("div", {}, h("h2", {}, "Failures"),
        h("ul", { class: "failures" }, run.failures.map((f) => h("li", {}, h("b", {}, f.label), ": ", f.error)))) : null,
      run.error ? h("div", {}, h("h2", {}, "Error"), h("pre", { class: "error" }, run.error)) : null,
      run.result !== null ? h("div", {}, h("h2", {}, "Result"), h("pre", { id: "result" }, pretty(run.result))) : null);
    if (run.status === "running" && !following) listen(run.last_event_id);
    return run;
  };
  const refresh = throttled(() => load().catch(failure));
  const listen = (after) => {
    following = true;
    stopFollowing = follow(`/api/runs/${runId}/events?after=${after}`, refresh, () => { following = false; refresh(); });
  };
  const stop = async (run) => {
    head.querySelector(".note").textContent = "stopping…";
    try { await api(`/api/runs/${run.id}/stop`, { method: "POST" }); } catch (e) { head.querySelector(".note").textContent = e.message; }
    refresh();
  };
  const resume = async (run) => {
    head.querySelector(".note").textContent = "resuming…";
    try {
      await api(`/api/runs/${run.id}/resume`, { method: "POST", body: "{}" });
      if (!following) listen(run.last_event_id);
    } catch (e) { head.querySelector(".note").textContent = e.message; }
    refresh();
  };
  await load();
  return () => stopFollowing();
}

function renderRunHead(head, run, actions) {
  const running = run.status === "running";
  fill(head,
    h("h1", {}, run.name, " ", h("span", { class: "muted id" }, run.id), " ", pill(run.status)),
    h("p", { class: "muted" }, run.description),
    h("dl", { class: "facts" },
      h("dt", {}, "agents"), h("dd", { class: "agents-count" }, `${run.agents_done}/${run.agents_total} done`,
        run.agents_failed ? `, ${run.agents_failed} failed` : ""),
      h("dt", {}, "tokens"), h("dd", {}, tokens(run.usage)),
      h("dt", {}, "elapsed"), h("dd", {}, seconds(run.elapsed_seconds)),
      h("dt", {}, "cache"), h("dd", { id: "run-cache" }, cacheBadge(run.usage.cache)),
      h("dt", {}, "started"), h("dd", {}, when(run.started_at)),
      run.resume_count ? [h("dt", {}, "resumed"), h("dd", {}, `${run.resume_count}×`)] : null,
      run.nested_runs.length ? [h("dt", {}, "nested runs"), h("dd", {}, run.nested_runs.join(", "))] : null),
    h("p", { class: "actions" },
      running ? h("button", { id: "stop", onclick: actions.stop }, "Stop") : null,
      !running && !run.parent_run_id ? h("button", { id: "resume", onclick: actions.resume }, "Resume") : null,
      " ", h("span", { class: "note muted" })));
}

async function agentView(agentId) {
  const head = h("section", { id: "agent-head" });
  const calls = h("section", { id: "calls" });
  const tasks = h("section", { id: "tasks" });
  const transcript = h("section", { id: "transcript" });
  fill(app, head, h("h2", {}, "Inference calls"), calls, h("h2", {}, "Background tasks"), tasks,
    h("h2", {}, "Transcript"), transcript);
  let agent = null;
  const load = async () => {
    agent = await api(`/api/agents/${agentId}`);
    fill(head,
      h("p", {}, h("a", { href: `#/runs/${agent.run_id}` }, `← run ${agent.run_id}`)),
      h("h1", {}, agent.label, " ", pill(agent.status)),
      h("dl", { class: "facts" },
        h("dt", {}, "model"), h("dd", {}, agent.model ?? "–"),
        h("dt", {}, "phase"), h("dd", {}, agent.phase ?? "–"),
        h("dt", {}, "tokens"), h("dd", {}, tokens(agent.usage)),
        h("dt", {}, "tool calls"), h("dd", {}, agent.tool_calls),
        h("dt", {}, "elapsed"), h("dd", {}, seconds(agent.elapsed_seconds)),
        h("dt", {}, "cache"), h("dd", { id: "agent-cache" }, cacheBadge(agent.usage.cache)),
        h("dt", {}, "session"), h("dd", {}, agent.session_id ?? "–")),
      agent.error ? h("pre", { class: "error" }, agent.error) : null,
      agent.result !== null ? h("div", {}, h("h2", {}, "Result"), h("pre", {}, pretty(agent.result))) : null);
    if (agent.session_id) await sessionParts(agent.session_id, calls, tasks, transcript);
    else fill(transcript, h("p", { class: "muted" }, "Not started yet."));
    return agent;
  };
  const refresh = throttled(() => load().catch(failure));
  const first = await api(`/api/agents/${agentId}`);
  const run = await api(`/api/runs/${first.run_id}`);  // its last_event_id predates what load() reads
  await load();
  if (run.status !== "running") return () => {};
  return follow(`/api/runs/${run.id}/events?after=${run.last_event_id}`, (event) => {
    if (event.data.agent_id === agentId || event.kind === "run_finished") refresh();
  }, refresh);
}

async function sessionView(sessionId) {
  const head = h("section", { id: "session-head" });
  const calls = h("section", { id: "calls" });
  const tasks = h("section", { id: "tasks" });
  const transcript = h("section", { id: "transcript" });
  fill(app, head, h("h2", {}, "Inference calls"), calls, h("h2", {}, "Background tasks"), tasks,
    h("h2", {}, "Transcript"), transcript);
  const session = await sessionParts(sessionId, calls, tasks, transcript);
  fill(head, h("h1", {}, session.title, " ", pill(session.status)),
    h("p", { class: "muted" }, `${session.kind} session ${session.id} · ${session.model}`));
  return () => {};
}

async function sessionParts(sessionId, calls, tasks, transcript) {
  const [data, callList, taskList] = await Promise.all([
    api(`/api/sessions/${sessionId}/transcript`),
    api(`/api/inference-calls?session_id=${encodeURIComponent(sessionId)}`),
    api(`/api/tasks?session_id=${encodeURIComponent(sessionId)}`).catch(() => []),
  ]);
  fill(calls, table(
    ["turn", "attempt", "status", "model", "latency", "first token", "input", "output", "cache"],
    callList.map((c) => h("tr", { class: "call-row", dataset: { call: c.id } },
      h("td", {}, c.turn), h("td", {}, c.attempt), h("td", {}, pill(c.status), c.error ? h("span", { class: "error" }, ` ${c.error}`) : null),
      h("td", {}, c.model), h("td", {}, c.latency_ms === null ? "–" : `${Math.round(c.latency_ms)} ms`),
      h("td", {}, c.ttft_ms === null ? "–" : `${Math.round(c.ttft_ms)} ms`),
      h("td", {}, count(c.input_total)), h("td", {}, count(c.output)), h("td", {}, cacheBadge(c.cache))))));
  fill(tasks, table(
    ["task", "kind", "status", "tokens", "tool calls", "cache"],
    taskList.map((t) => h("tr", { class: "task-row" },
      h("td", {}, t.session_id ? h("a", { href: `#/sessions/${t.session_id}` }, t.label || t.id)
        : t.run_id ? h("a", { href: `#/runs/${t.run_id}` }, t.label || t.id) : t.label || t.id),
      h("td", {}, t.kind), h("td", {}, pill(t.status)), h("td", {}, tokens(t.usage)), h("td", {}, t.tool_calls),
      h("td", {}, cacheBadge(t.usage.cache)))),
    "No background tasks."));
  fill(transcript, data.chats.map((chat) => h("article", { class: "chat" },
    h("h3", {}, `Attempt ${chat.attempt}`),
    chat.system_prompt ? h("details", { class: "system" }, h("summary", {}, "system prompt"), h("pre", {}, chat.system_prompt)) : null,
    chat.messages.map((m) => h("div", { class: `message ${m.role}` },
      h("div", { class: "role" }, m.role), m.parts.map(part))))));
  if (!data.chats.length) fill(transcript, h("p", { class: "muted" }, "No messages yet."));
  return data.session;
}

function part(p) {
  switch (p.kind) {
    case "text":
      return h("pre", { class: "part text" }, p.text ?? "");
    case "reasoning":
      return h("details", { class: "part reasoning" }, h("summary", {}, "reasoning"), h("pre", {}, p.text ?? ""));
    case "image":
      return h("figure", { class: "part image" }, h("img", { src: p.image_url, alt: p.text || "image" }),
        p.text ? h("figcaption", { class: "muted" }, p.text) : null);
    case "tool_call":
      return h("div", { class: "part tool-call" }, h("div", {}, "→ ", h("b", {}, p.tool_name), " ", h("code", { class: "muted" }, p.tool_call_id)),
        h("pre", { class: "args" }, pretty(p.data ?? {})));
    case "tool_result":
      return h("div", { class: `part tool-result${p.is_error ? " error" : ""}` },
        h("div", {}, "← ", h("b", {}, p.tool_name), p.is_error ? " (error)" : "", " ", h("code", { class: "muted" }, p.tool_call_id)),
        h("pre", {}, p.text ?? ""),
        Array.isArray(p.data) ? p.data.map((i) => h("div", { class: "muted" }, `image: ${i.source || i.media_type}`)) : null);
    default:
      return h("pre", { class: "part" }, JSON.stringify(p));
  }
}

async function workflowsView() {
  const list = await api("/api/workflows");
  fill(app, h("h1", {}, "Workflows"), table(["name", "description", "source", "phases"],
    list.map((w) => h("tr", {},
      h("td", {}, w.name, w.shadowed ? h("span", { class: "muted" }, " (shadowed)") : null),
      h("td", {}, w.error ? h("span", { class: "error" }, w.error) : w.description),
      h("td", { class: "muted" }, `${w.source}: ${w.path}`),
      h("td", {}, w.phases.map((p) => p.title).join(" → "))))));
  return () => {};
}

// --- routing --------------------------------------------------------------------------------------------

async function route() {
  cleanup();
  cleanup = () => {};
  const [, view, id] = location.hash.replace(/^#/, "").split("/");
  try {
    if (view === "runs" && id) cleanup = await runView(decodeURIComponent(id));
    else if (view === "agents" && id) cleanup = await agentView(decodeURIComponent(id));
    else if (view === "sessions" && id) cleanup = await sessionView(decodeURIComponent(id));
    else if (view === "workflows") cleanup = await workflowsView();
    else cleanup = await runsView();
  } catch (error) {
    failure(error);
  }
}

window.addEventListener("hashchange", route);
route();
