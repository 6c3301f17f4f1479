// deskhand serve: the page. Plain ES modules, no build step. Every string that comes from a run
// (task, model text, tool output) is untrusted and only ever set as textContent.
import RFB from "./vendor/novnc/core/rfb.js";

const $ = (id) => document.getElementById(id);
const state = {
  runs: new Map(),        // id -> summary
  timelines: new Map(),   // id -> Map(seq -> event)
  selected: null,
  rfb: null,
  rfbRun: null,
  replayIndex: 0,
  frames: [],
  streamText: "",
  notified: new Set(),
};
window.deskhand = state;  // for debugging in the console (and the tests)

// ---------------------------------------------------------------- helpers
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Deskhand": "1" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.detail;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail ?? response.status));
  }
  return data;
}
const badgeClass = (badge) => "badge b-" + String(badge).replace(/\s+/g, "-");
const money = (usd) => "$" + (usd >= 1 ? usd.toFixed(2) : usd.toFixed(4));
const ms = (value) => value >= 1000 ? (value / 1000).toFixed(2) + " s" : Math.round(value) + " ms";
const since = (t) => {
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 60) return "just now";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return new Date(t * 1000).toLocaleDateString();
};
const shotUrl = (runId, file) =>
  `/api/runs/${encodeURIComponent(runId)}/screenshots/${encodeURIComponent(file.split("/").pop())}`;
const typing = () => ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName)
  || document.activeElement?.closest?.("#screen") || $("task-dialog").open;

function describe(name, input) {
  const a = input || {};
  if (name === "bash") return a.restart ? "bash: restart" : "bash: " + (a.command ?? "");
  if (name.includes("edit")) return `editor: ${a.command ?? ""} ${a.path ?? ""}`.trim();
  const action = a.action ?? name;
  const at = a.coordinate ? ` (${a.coordinate[0]}, ${a.coordinate[1]})` : "";
  if (action === "type") return `type ${JSON.stringify(a.text ?? "")}`;
  if (action === "key") return `key ${JSON.stringify(a.text ?? "")}`;
  if (action === "left_click_drag") {
    const from = a.start_coordinate ? `(${a.start_coordinate.join(", ")}) → ` : "→ ";
    return `drag ${from}(${(a.coordinate || []).join(", ")})`;
  }
  if (action === "scroll") return `scroll ${a.scroll_direction ?? ""} ${a.scroll_amount ?? ""}${at}`;
  if (action === "wait") return `wait ${a.duration ?? ""} s`;
  if (action === "zoom") return `zoom [${(a.region || []).join(", ")}]`;
  return action + at;
}
function describeHuman(action) {
  switch (action.action) {
    case "left_click": case "right_click": case "middle_click":
      return `${action.action.replace("_", " ")} (${action.x}, ${action.y})`;
    case "left_click_drag": return `drag (${action.x}, ${action.y}) → (${action.to_x}, ${action.to_y})`;
    case "type": return `typed ${action.chars} character${action.chars === 1 ? "" : "s"}`;
    case "paste": return `pasted ${action.chars} characters`;
    case "key": return `key ${action.key}`;
    case "scroll": return `scroll ${action.direction} ×${action.amount}`;
    default: return action.action;
  }
}

// ---------------------------------------------------------------- runs list
function upsertRun(run) {
  const old = state.runs.get(run.id);
  state.runs.set(run.id, { ...(old || {}), ...run });
  renderRuns();
  renderWaiting();
  if (state.selected === run.id) renderRunHead();
}
function sortedRuns() {
  return [...state.runs.values()].sort((a, b) => b.started - a.started);
}
function renderRuns() {
  const list = $("runs-list");
  const runs = sortedRuns();
  list.replaceChildren(...runs.map((run) => {
    const li = el("li");
    li.tabIndex = 0;
    li.dataset.id = run.id;
    li.setAttribute("role", "button");
    li.setAttribute("aria-current", String(run.id === state.selected));
    li.append(el("div", "task", run.task));
    const meta = el("div", "meta");
    meta.append(el("span", badgeClass(run.badge), run.badge));
    meta.append(el("span", "", `${run.steps} step${run.steps === 1 ? "" : "s"}`));
    meta.append(el("span", "", money(run.cost_usd || 0)));
    meta.append(el("span", "", since(run.started)));
    li.append(meta);
    li.addEventListener("click", () => select(run.id));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(run.id); } });
    return li;
  }));
  $("runs-empty").hidden = runs.length > 0;
  $("runs-count").textContent = runs.length ? String(runs.length) : "";
}
function renderWaiting() {
  const waiting = [...state.runs.values()].flatMap((r) => r.approvals || []);
  const button = $("waiting");
  button.hidden = waiting.length === 0;
  button.textContent = waiting.length === 1 ? "1 approval waiting" : `${waiting.length} approvals waiting`;
  document.title = waiting.length ? `(${waiting.length}) deskhand` : "deskhand";
}
$("waiting").addEventListener("click", () => {
  const run = sortedRuns().find((r) => (r.approvals || []).length);
  if (run) select(run.id);
  setTimeout(() => document.querySelector("#approvals .approve")?.focus(), 50);
});

// ---------------------------------------------------------------- one run
async function select(id) {
  if (!state.runs.has(id)) return;
  state.selected = id;
  state.follow = true;
  state.streamText = "";
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  $("empty").hidden = true;
  $("run").hidden = false;
  renderRuns();
  renderRunHead();
  renderTimeline();
  try {
    const events = await api(`/api/runs/${encodeURIComponent(id)}/events`);
    const timeline = state.timelines.get(id) || new Map();
    for (const event of events) timeline.set(event.seq, event);
    state.timelines.set(id, timeline);
  } catch (err) {
    console.warn(err);
  }
  if (state.selected !== id) return;
  renderTimeline();
  renderViewer();
}
function renderRunHead() {
  const run = state.runs.get(state.selected);
  if (!run) return;
  $("run-task").textContent = run.task;
  const meta = $("run-meta");
  const parts = [run.model, run.provider, `${run.steps} steps`, money(run.cost_usd || 0), run.id];
  if (run.reason && !run.live) parts.push(run.reason);
  meta.replaceChildren(...parts.filter(Boolean).map((p) => el("span", "", p)));
  const badge = $("run-badge");
  badge.className = badgeClass(run.badge);
  badge.textContent = run.badge;
  $("stop").hidden = !run.live;
  $("take-over").hidden = !run.live || run.control !== "agent";
  const report = $("report");
  report.hidden = run.live;
  report.href = `/api/runs/${encodeURIComponent(run.id)}/report`;
  renderApprovals(run);
  renderTakeover(run);
  renderViewer();
}
function renderTakeover(run) {
  const bar = $("takeover-bar");
  bar.hidden = !run.live || run.control === "agent";
  $("takeover-state").textContent = run.control === "human"
    ? "You have the desktop."
    : "Taking over: the agent finishes its current step…";
  $("hand-back").disabled = false;
  $("hand-back").textContent = run.control === "human" ? "Hand back" : "Cancel";
  $("handback-note").hidden = run.control !== "human";
  $("screen").classList.toggle("human", run.live && run.control === "human");
  if (state.rfb && state.rfbRun === run.id) {
    state.rfb.viewOnly = run.control !== "human";
    if (run.control === "human") state.rfb.focus();
    if ($("screen-status").textContent.startsWith("live")) {
      $("screen-status").textContent = state.rfb.viewOnly ? "live · view only" : "live · you have control";
    }
  }
}
function renderApprovals(run) {
  const box = $("approvals");
  const approvals = run.approvals || [];
  const shown = new Set([...box.children].map((c) => c.dataset.id));
  if (approvals.length === shown.size && approvals.every((a) => shown.has(a.id))) return;
  box.replaceChildren(...approvals.map((a) => {
    const card = el("div", "approval");
    card.dataset.id = a.id;
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", "Approval needed");
    if (a.crop) {
      const crop = el("div", "crop");
      const img = el("img");
      img.src = a.crop;
      img.alt = "the screen around the target";
      crop.append(img);
      if (a.crop_target) {
        const mark = el("div", "mark small");
        mark.style.left = `${a.crop_target[0] * 100}%`;
        mark.style.top = `${a.crop_target[1] * 100}%`;
        crop.append(mark);
      }
      card.append(crop);
    } else {
      card.append(el("div"));
    }
    const body = el("div");
    body.append(el("h3", "", `Step ${a.step}: approve this action?`));
    body.append(el("div", "what", a.summary));
    body.append(el("div", "why", a.reason + (a.rule ? ` (rule: ${a.rule})` : "")));
    const buttons = el("div", "buttons");
    const approve = el("button", "approve", "Approve");
    const deny = el("button", "deny", "Deny");
    const always = el("button", "", "Allow this kind for this run");
    const left = el("span", "left");
    const answer = async (approved, remember) => {
      for (const b of [approve, deny, always]) b.disabled = true;
      try {
        await api(`/api/runs/${encodeURIComponent(a.run_id)}/approvals/${a.id}`, { approved, remember });
      } catch (err) {
        left.textContent = err.message;
      }
    };
    approve.addEventListener("click", () => answer(true, false));
    deny.addEventListener("click", () => answer(false, false));
    always.addEventListener("click", () => answer(true, true));
    buttons.append(approve, deny, always, left);
    const tick = () => {
      const s = Math.max(0, Math.round(a.deadline - Date.now() / 1000));
      left.textContent = `declined automatically in ${s} s`;
      if (card.isConnected && s > 0) setTimeout(tick, 1000);
    };
    tick();
    body.append(buttons);
    card.append(body);
    return card;
  }));
}

// ---------------------------------------------------------------- live view and replay
function renderViewer() {
  const run = state.runs.get(state.selected);
  if (!run) return;
  const live = run.live;
  $("screen").hidden = !live;
  $("replay").hidden = live;
  $("live-line").hidden = !live || !state.streamText;
  if (live) {
    if (run.desktop) connectVnc(run);
    else {
      disconnectVnc();
      $("screen-status").textContent = "starting the desktop…";
    }
  } else {
    disconnectVnc();
    buildReplay();
  }
}
function connectVnc(run) {
  if (state.rfb && state.rfbRun === run.id) return;
  disconnectVnc();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/runs/${encodeURIComponent(run.id)}/vnc`;
  const rfb = new RFB($("screen"), url, { shared: true });
  rfb.viewOnly = run.control !== "human";
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.background = "#111827";
  $("screen-status").textContent = "connecting…";
  rfb.addEventListener("connect", () => {
    $("screen-status").textContent = rfb.viewOnly ? "live · view only" : "live · you have control";
  });
  rfb.addEventListener("disconnect", () => {
    $("screen-status").textContent = "disconnected";
    if (state.rfb === rfb) { state.rfb = null; state.rfbRun = null; }
  });
  state.rfb = rfb;
  state.rfbRun = run.id;
}
function disconnectVnc() {
  if (state.rfb) {
    const rfb = state.rfb;
    state.rfb = null;
    state.rfbRun = null;
    try { rfb.disconnect(); } catch (err) { /* already closed */ }
  }
  for (const canvas of $("screen").querySelectorAll("div:not(.screen-status)")) canvas.remove();
}

// The frames of a replay: every action with the screen it was chosen on (marks drawn) or,
// when there is none, the screen it left.
function replayFrames(runId) {
  const events = [...(state.timelines.get(runId) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const frames = [];
  let screen = null;
  let text = "";
  for (const e of events) {
    if (e.kind === "model_turn") { text = e.text; continue; }
    if (e.kind === "tool_result") {
      const result = e.screenshot ? { file: e.screenshot, size: e.screenshot_size } : null;
      const seen = e.points?.length && screen ? screen : (result || screen);
      frames.push({ seq: e.seq, step: e.step, shot: seen, points: seen === screen ? e.points : [],
        caption: `Step ${e.step}: ${describe(e.name, e.input)}${e.error ? "\n✗ " + e.error : ""}${text ? "\n\n" + text : ""}` });
      text = "";
      if (result && e.input?.action !== "zoom") screen = result;
    } else if (e.kind === "human_steps") {
      const result = e.screenshot ? { file: e.screenshot, size: e.screenshot_size } : screen;
      frames.push({ seq: e.seq, step: e.step, shot: result, points: [], human: true,
        caption: `You had the desktop (${e.actions.length} actions)${e.note ? ": " + e.note : ""}` });
      if (e.screenshot) screen = result;
    }
  }
  return frames;
}
function buildReplay() {
  const frames = replayFrames(state.selected);
  state.frames = frames;
  const range = $("replay-range");
  range.max = String(Math.max(0, frames.length - 1));
  if (state.replayIndex >= frames.length) state.replayIndex = Math.max(0, frames.length - 1);
  range.value = String(state.replayIndex);
  showFrame(state.replayIndex, false);
}
function showFrame(i, reveal = true) {
  const frames = state.frames;
  if (!frames.length) {
    $("replay-img").removeAttribute("src");
    $("replay-img").hidden = true;
    $("replay-none").hidden = false;
    $("replay-pos").textContent = "no steps";
    $("replay-caption").textContent = "This run has no recorded actions.";
    $("replay-marks").replaceChildren();
    return;
  }
  i = Math.max(0, Math.min(frames.length - 1, i));
  state.replayIndex = i;
  const frame = frames[i];
  $("replay-range").value = String(i);
  $("replay-pos").textContent = `${i + 1} / ${frames.length}`;
  $("replay-caption").textContent = frame.caption;
  const img = $("replay-img");
  if (frame.shot) img.src = shotUrl(state.selected, frame.shot.file); else img.removeAttribute("src");
  img.hidden = !frame.shot;
  $("replay-none").hidden = Boolean(frame.shot);
  const marks = $("replay-marks");
  marks.replaceChildren();
  if (frame.shot?.size) placeMarks(marks, img, frame.points, frame.shot.size);
  for (const li of $("timeline").children) {
    const current = Number(li.dataset.seq) === frame.seq;
    li.classList.toggle("current", current);
    if (current && reveal) {
      state.follow = false;
      li.scrollIntoView({ block: "nearest" });
    }
  }
}
function placeMarks(layer, img, points, size) {
  // object-fit: contain; compute the letterboxed area so marks land on the pixels.
  const box = layer.getBoundingClientRect();
  const [w, h] = size;
  const scale = Math.min(box.width / w, box.height / h) || 1;
  const ox = (box.width - w * scale) / 2, oy = (box.height - h * scale) / 2;
  for (const p of points || []) {
    const mark = el("div", "mark");
    mark.style.left = `${ox + p.x * scale}px`;
    mark.style.top = `${oy + p.y * scale}px`;
    layer.append(mark);
  }
}
$("replay-range").addEventListener("input", (e) => showFrame(Number(e.target.value)));
$("replay-prev").addEventListener("click", () => showFrame(state.replayIndex - 1));
$("replay-next").addEventListener("click", () => showFrame(state.replayIndex + 1));
window.addEventListener("resize", () => { if (!$("replay").hidden) showFrame(state.replayIndex, false); });

// ---------------------------------------------------------------- timeline
function thumb(runId, shot, points) {
  const box = el("div", "thumb");
  // The box has its final height before the image loads, so following the timeline's end works.
  box.style.aspectRatio = shot.size ? `${shot.size[0]} / ${shot.size[1]}` : "16 / 10";
  const img = el("img");
  img.loading = "lazy";
  img.alt = "screen";
  img.src = shotUrl(runId, shot.file);
  box.append(img);
  if (shot.size) {
    for (const p of points || []) {
      const mark = el("div", "mark small");
      mark.style.left = `${(p.x / shot.size[0]) * 100}%`;
      mark.style.top = `${(p.y / shot.size[1]) * 100}%`;
      box.append(mark);
    }
  }
  return box;
}
function renderTimeline() {
  const runId = state.selected;
  const list = $("timeline");
  const events = [...(state.timelines.get(runId) || new Map()).values()].sort((a, b) => a.seq - b.seq);
  const items = [];
  let screen = null;
  let calls = new Map();
  for (const e of events) {
    const li = el("li");
    li.dataset.seq = String(e.seq);
    switch (e.kind) {
      case "run_started": {
        li.append(el("div", "t-step", e.resumed ? "resumed" : "started"));
        li.append(el("div", "t-text muted", `${e.model} · ${e.tool_version} · screen ${e.screen.join("x")}`));
        break;
      }
      case "model_turn": {
        calls = new Map(e.tool_calls.map((c) => [c.id, c]));
        const head = el("div", "t-step");
        const left = el("span");
        left.append(el("b", "", `Step ${e.step}`));
        head.append(left, el("span", "", `model ${ms(e.model_ms)} · ${e.usage.input_tokens + e.usage.output_tokens + e.usage.cache_read_input_tokens + e.usage.cache_creation_input_tokens} tok · ${money(e.total_cost_usd)} so far`));
        li.append(head);
        if (e.text) li.append(el("div", "t-text", e.text));
        if (e.thinking) {
          const details = el("details");
          details.append(el("summary", "", "thinking"), el("div", "t-text muted", e.thinking));
          li.append(details);
        }
        if (!e.text && !e.thinking) continue;
        break;
      }
      case "tool_result": {
        const row = el("div", "t-action");
        row.append(el("span", "name", (e.error ? "✗ " : "✓ ") + describe(e.name, e.input)));
        row.append(el("span", "ms", `tool ${ms(e.tool_ms)}`));
        li.append(row);
        const result = e.screenshot ? { file: e.screenshot, size: e.screenshot_size } : null;
        if (e.points?.length && screen) li.append(thumb(runId, screen, e.points));
        else if (result) li.append(thumb(runId, result, []));
        if (e.error) li.append(el("pre", "t-out err", e.error));
        else if (e.output) li.append(el("pre", "t-out", e.output.length > 1500 ? e.output.slice(0, 1500) + "…" : e.output));
        if (result && e.input?.action !== "zoom") screen = result;
        if (e.error && /declined/i.test(e.error)) li.classList.add("declined");
        li.classList.add("clickable");
        break;
      }
      case "gate": {
        if (e.decision === "allow" && !e.rule) continue;
        const call = describe(e.name, e.input);
        if (e.decision === "allow") {
          li.classList.add("gate-allow");
          const line = el("div");
          line.append(el("span", "chip ok", "allowed"), document.createTextNode(call));
          li.append(line);
        } else if (e.decision === "deny") {
          li.classList.add("gate-deny");
          const line = el("div");
          line.append(el("span", "chip bad", "denied by policy"), document.createTextNode(call));
          li.append(line);
        } else {
          li.classList.add("gate-confirm");
          const ok = e.approved;
          const who = { web: "by you", timeout: "no answer in time", "non-interactive": "nobody to ask" }[e.approver] || e.approver || "";
          const chip = el("span", "chip " + (ok ? "ok" : "bad"), ok ? "approved" : "declined");
          const line = el("div");
          line.append(chip, document.createTextNode(`${call} · ${who}`));
          li.append(line);
        }
        li.append(el("div", "muted small", e.reason + (e.note ? ` · note: ${e.note}` : "")));
        break;
      }
      case "notice": {
        const injection = /prompt injection/i.test(e.message);
        if (injection) li.classList.add("injection");
        const line = el("div");
        line.append(el("span", "chip " + (injection ? "bad" : e.level === "info" ? "info" : "warn"), injection ? "injection warning" : e.level));
        line.append(document.createTextNode(e.message.length > 400 ? e.message.slice(0, 400) + "…" : e.message));
        li.append(line);
        break;
      }
      case "model_retry": {
        li.append(el("div", "muted small", `retry ${e.attempt} in ${e.delay_s.toFixed(1)} s: ${e.error}`));
        break;
      }
      case "egress": {
        const line = el("div", "small");
        line.append(el("span", "chip " + (e.allowed ? "info" : "bad"), e.allowed ? "network" : "blocked"));
        line.append(document.createTextNode(`${e.method} ${e.host}${e.port ? ":" + e.port : ""} · ${e.reason}`));
        li.append(line);
        break;
      }
      case "taken_over": {
        li.classList.add("human");
        const line = el("div");
        line.append(el("span", "chip human", "taken over"), document.createTextNode("The agent is paused; a person has the desktop."));
        li.append(line);
        break;
      }
      case "human_steps": {
        li.classList.add("human", "clickable");
        const line = el("div");
        line.append(el("span", "chip human", "handed back"), document.createTextNode(`${e.actions.length} human action${e.actions.length === 1 ? "" : "s"} in ${e.seconds.toFixed(0)} s`));
        li.append(line);
        if (e.actions.length) li.append(el("div", "t-text small", e.actions.map(describeHuman).join(" · ")));
        if (e.note) li.append(el("div", "t-text", `Note to the model: ${e.note}`));
        if (e.screenshot) { screen = { file: e.screenshot, size: e.screenshot_size }; li.append(thumb(runId, screen, [])); }
        break;
      }
      case "run_finished": {
        li.classList.add("finish");
        const line = el("div");
        const b = el("span", badgeClass(e.status === "done" ? "done" : e.status === "interrupted" ? "stopped" : e.status === "budget_exceeded" ? "over budget" : e.status === "stuck" ? "stuck" : "failed"), e.status.replace("_", " "));
        line.append(b, document.createTextNode(` ${e.reason}`));
        li.append(line);
        li.append(el("div", "muted small", `${e.steps} steps · ${money(e.cost_usd)} · ${e.seconds.toFixed(1)} s (model ${ms(e.model_ms)}, tools ${ms(e.tool_ms)})`));
        break;
      }
      default:
        continue;
    }
    items.push(li);
  }
  list.replaceChildren(...items);
  fitTimeline();
  const run = state.runs.get(runId);
  if (run && !run.live) buildReplay();
}
// Beside the view (wide windows) the timeline scrolls within the window; below it, the page does.
function fitTimeline() {
  const wrap = $("timeline").parentElement;
  const beside = window.matchMedia("(min-width: 1061px)").matches;
  const top = wrap.getBoundingClientRect().top;
  wrap.style.maxHeight = beside ? `${Math.max(240, window.innerHeight - top - 16)}px` : "none";
  if (state.follow) wrap.scrollTop = wrap.scrollHeight;
}
// The timeline follows new events until the person scrolls up; scrolling back down resumes.
state.follow = true;
for (const type of ["wheel", "touchmove", "keyup"]) {
  $("timeline").parentElement.addEventListener(type, () => {
    const wrap = $("timeline").parentElement;
    state.follow = wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40;
  }, { passive: true });
}
$("timeline").parentElement.addEventListener("scroll", () => {
  const wrap = $("timeline").parentElement;
  if (wrap.scrollHeight - wrap.scrollTop - wrap.clientHeight < 40) state.follow = true;
}, { passive: true });
window.addEventListener("resize", fitTimeline);
new ResizeObserver(fitTimeline).observe($("approvals"));
$("timeline").addEventListener("click", (e) => {
  const li = e.target.closest("li.clickable");
  if (!li || $("replay").hidden) return;
  const i = state.frames.findIndex((f) => f.seq === Number(li.dataset.seq));
  if (i >= 0) showFrame(i);
});

// ---------------------------------------------------------------- controls
$("stop").addEventListener("click", async () => {
  $("stop").disabled = true;
  try { await api(`/api/runs/${encodeURIComponent(state.selected)}/stop`, {}); }
  catch (err) { alert(err.message); }
  finally { $("stop").disabled = false; }
});
$("take-over").addEventListener("click", async () => {
  try { upsertRun(await api(`/api/runs/${encodeURIComponent(state.selected)}/takeover`, {})); }
  catch (err) { alert(err.message); }
});
async function handBack() {
  $("hand-back").disabled = true;
  const note = $("handback-note").value;
  try {
    upsertRun(await api(`/api/runs/${encodeURIComponent(state.selected)}/handback`, { note }));
    $("handback-note").value = "";
  } catch (err) { alert(err.message); }
  finally { $("hand-back").disabled = false; }
}
$("hand-back").addEventListener("click", handBack);
$("handback-note").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); handBack(); } });

// ---------------------------------------------------------------- new task
let options = null;
async function openTaskDialog() {
  askNotifications();
  if (!options) {
    options = await api("/api/options");
    const form = $("task-form");
    form.model.value = options.default_model;
    $("models").replaceChildren(...options.models.map((m) => { const o = el("option"); o.value = m; return o; }));
    $("policies").replaceChildren(...options.policies.map((m) => { const o = el("option"); o.value = m; return o; }));
    form.provider.replaceChildren(...options.providers.map((p) => el("option", "", p)));
    for (const v of options.tool_versions) form.tool_version.append(el("option", "", v));
    $("apps").replaceChildren(...options.apps.map((a) => {
      const label = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.name = "apps";
      box.value = a.key;
      label.append(box, document.createTextNode(a.title));
      return label;
    }));
  }
  $("task-error").hidden = true;
  $("task-dialog").showModal();
  $("task-form").task.focus();
}
$("new-task").addEventListener("click", openTaskDialog);
$("new-task-empty").addEventListener("click", openTaskDialog);
$("task-cancel").addEventListener("click", () => $("task-dialog").close());
$("task-form").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("task-form").requestSubmit(); }
});
$("task-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  const num = (v) => (v === "" ? null : Number(v));
  const body = {
    task: f.task.value,
    model: f.model.value,
    provider: f.provider.value,
    tool_version: f.tool_version.value || null,
    screen: f.screen.value,
    apps: [...f.querySelectorAll("input[name=apps]:checked")].map((b) => b.value),
    max_steps: num(f.max_steps.value),
    max_seconds: f.max_minutes.value === "" ? null : Number(f.max_minutes.value) * 60,
    max_cost: num(f.max_cost.value),
    confirm_timeout: num(f.confirm_timeout.value) ?? 120,
    policy: f.policy.value,
    allowed_domains: f.allowed_domains.value.split(/[\s,]+/).filter(Boolean),
    screening: f.screening.checked,
  };
  $("task-start").disabled = true;
  try {
    const run = await api("/api/runs", body);
    upsertRun(run);
    $("task-dialog").close();
    f.task.value = "";
    select(run.id);
  } catch (err) {
    $("task-error").textContent = err.message;
    $("task-error").hidden = false;
  } finally {
    $("task-start").disabled = false;
  }
});

// ---------------------------------------------------------------- notifications and keys
function askNotifications() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}
function notify(approval) {
  if (state.notified.has(approval.id)) return;
  state.notified.add(approval.id);
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (!document.hidden && state.selected === approval.run_id) return;
  const n = new Notification("deskhand: approval needed", { body: approval.summary, tag: approval.id });
  n.onclick = () => { window.focus(); select(approval.run_id); n.close(); };
}
document.addEventListener("keydown", (e) => {
  if (typing() || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "n" || e.key === "N") { e.preventDefault(); openTaskDialog(); }
  else if (e.key === "j" || e.key === "k") {
    const runs = sortedRuns();
    const i = runs.findIndex((r) => r.id === state.selected);
    const next = runs[Math.max(0, Math.min(runs.length - 1, i + (e.key === "j" ? 1 : -1)))];
    if (next) select(next.id);
  } else if (!$("replay").hidden && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
    e.preventDefault();
    showFrame(state.replayIndex + (e.key === "ArrowRight" ? 1 : -1));
  }
});

// ---------------------------------------------------------------- the event stream
function onMessage(message) {
  switch (message.type) {
    case "run": upsertRun(message.run); break;
    case "event": {
      const timeline = state.timelines.get(message.run_id) || new Map();
      timeline.set(message.event.seq, message.event);
      state.timelines.set(message.run_id, timeline);
      if (message.event.kind === "model_turn") state.streamText = "";
      if (message.run_id === state.selected) {
        renderTimeline();
        $("live-line").hidden = !state.streamText;
      }
      break;
    }
    case "text": {
      if (message.run_id !== state.selected) break;
      state.streamText = (state.streamText + message.text).slice(-600);
      const line = $("live-line");
      line.textContent = state.streamText;
      line.hidden = false;
      break;
    }
    case "approval": {
      const run = state.runs.get(message.approval.run_id);
      if (run) upsertRun({ ...run, approvals: [...(run.approvals || []).filter((a) => a.id !== message.approval.id), message.approval] });
      notify(message.approval);
      break;
    }
    case "desktop": {
      const run = state.runs.get(message.run_id);
      if (run) upsertRun({ ...run, desktop: true });
      break;
    }
    default: break;
  }
}
let backoff = 500;
function connect() {
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.addEventListener("open", async () => {
    backoff = 500;
    $("conn").textContent = "connected";
    $("conn").classList.add("up");
    try {
      for (const run of await api("/api/runs")) upsertRun(run);
      renderRuns();
      if (!state.selected && location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)));
    } catch (err) { console.warn(err); }
  });
  socket.addEventListener("message", (e) => onMessage(JSON.parse(e.data)));
  socket.addEventListener("close", () => {
    $("conn").textContent = "reconnecting…";
    $("conn").classList.remove("up");
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 8000);
  });
}
setInterval(renderRuns, 30_000);  // "2 min ago" stays true
connect();
