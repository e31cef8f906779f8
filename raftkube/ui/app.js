// The raftkube dashboard: lists then watches the core/v1 resources of one master, polls every master's /raft
// and /metrics, and moves to another master of /ui/masters.json when the one it talks to stops answering.
// Plain JS, no library, no build step.
"use strict";

const RESOURCES = ["nodes", "pods", "replicationcontrollers", "services", "endpoints", "events"];
const POLL_MS = 2000;          // /raft and /metrics of every master
const HISTORY = 150;           // chart points: 5 minutes at POLL_MS
const PHASES = ["Pending", "Running", "Succeeded", "Failed", "Unknown"];
const PHASE_CLASS = {Pending: "st-warn", Running: "st-ok", Succeeded: "st-info", Failed: "st-bad", Unknown: "st-idle"};
const MAX_ROWS = 300;

const state = {
  masters: [],                 // [{name, url}] from /ui/masters.json
  current: null,               // the master whose API this page watches
  generation: 0,               // bumped at every move: the watches of an older one stop
  aborts: [],                  // AbortControllers of the current generation's requests
  objects: Object.fromEntries(RESOURCES.map(r => [r, new Map()])),
  raft: {},                    // master name -> /raft answer or null (unreachable)
  history: [],                 // [{t, req, commit}]
  last: null,                  // previous sample: {t, totals: {master: requests}, commit}
  failingOver: false,
};

// ---- API access ---------------------------------------------------------------------------------------
function base() { return state.current ? state.current.url : ""; }

function fetchWithTimeout(url, ms, opts = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  return fetch(url, {...opts, signal: ctl.signal}).finally(() => clearTimeout(timer));
}

function key(obj) {
  const m = obj.metadata || {};
  return (m.namespace || "") + "/" + m.name;
}

// List every resource, then follow them all on one stream (/ui/watch: a browser has only six connections
// to a master). Resource r is current up to seen[r]: the stream starts at the lowest of those, and skips a
// resource's events at or below its own. A 410 lists again; a broken stream re-watches, or moves master.
async function follow(gen) {
  const seen = {};
  let listed = false;
  while (gen === state.generation) {
    const ctl = new AbortController();
    state.aborts.push(ctl);
    try {
      if (!listed) {
        const lists = await Promise.all(RESOURCES.map(async r => {
          const resp = await fetch(base() + "/api/v1/" + r, {signal: ctl.signal});
          if (!resp.ok) throw new Error(r + ": HTTP " + resp.status);
          return [r, await resp.json()];
        }));
        if (gen !== state.generation) return;
        for (const [r, list] of lists) {
          const m = state.objects[r];
          m.clear();
          for (const item of list.items || []) m.set(key(item), item);
          seen[r] = parseInt((list.metadata || {}).resourceVersion || "0", 10);
        }
        listed = true;
        changed();
      }
      const from = Math.min(...RESOURCES.map(r => seen[r]));
      const resp = await fetch(base() + "/ui/watch?resources=" + RESOURCES.join(",") + "&resourceVersion=" + from,
                               {signal: ctl.signal});
      if (!resp.ok) throw new Error("watch: HTTP " + resp.status);
      markConnected();
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;  // the server ended the stream: watch again from seen
        if (gen !== state.generation) { ctl.abort(); return; }
        buf += decoder.decode(value, {stream: true});
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === "ERROR") { listed = false; break; }  // 410 Expired (or another error): list again
          const obj = ev.object || {};
          const rv = parseInt((obj.metadata || {}).resourceVersion || "0", 10);
          const r = ev.resource;
          if (!(r in seen) || rv <= seen[r]) continue;  // already in the list, or already applied
          seen[r] = rv;
          if (ev.type === "DELETED") state.objects[r].delete(key(obj));
          else state.objects[r].set(key(obj), obj);
          changed();
        }
        if (!listed) { ctl.abort(); break; }
      }
    } catch (err) {
      if (gen !== state.generation) return;
      await failover(err);  // moves to another master (a new generation) or waits until one answers
      if (gen !== state.generation) return;
    }
  }
}

function markConnected() {
  const el = document.getElementById("conn");
  el.dataset.state = "connected";
  el.dataset.master = state.current.name;
  el.textContent = "watching " + state.current.name;
}

// The current master failed a request: find one that answers /readyz (the current one first, in case the
// error was a single broken stream), and restart every watch there.
async function failover(err) {
  if (state.failingOver) { while (state.failingOver) await delay(200); return; }
  state.failingOver = true;
  const el = document.getElementById("conn");
  el.dataset.state = "down";
  el.textContent = state.current.name + " unreachable, moving…";
  console.warn("dashboard:", String(err));
  try {
    for (let round = 0; ; round++) {
      const start = state.masters.indexOf(state.current);
      for (let i = 0; i < state.masters.length; i++) {
        const m = state.masters[(start + i) % state.masters.length];
        try {
          const r = await fetchWithTimeout(m.url + "/readyz", 1500);
          if (r.ok) { connect(m); return; }
        } catch (e) { /* try the next one */ }
      }
      await delay(Math.min(500 * (round + 1), 3000));
    }
  } finally {
    state.failingOver = false;
  }
}

function connect(master) {
  for (const c of state.aborts) c.abort();
  state.aborts = [];
  state.current = master;
  const gen = ++state.generation;
  const el = document.getElementById("conn");
  el.dataset.state = "connecting";
  el.dataset.master = master.name;
  el.textContent = "connecting to " + master.name + "…";
  follow(gen);
}

function delay(ms) { return new Promise(res => setTimeout(res, ms)); }

// ---- /raft and /metrics of every master ---------------------------------------------------------------
function requestsTotal(text) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("raftkube_api_requests_total")) sum += parseFloat(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function poll() {
  const results = await Promise.all(state.masters.map(async m => {
    try {
      const [raft, metrics] = await Promise.all([
        fetchWithTimeout(m.url + "/raft", 1500).then(r => r.json()),
        fetchWithTimeout(m.url + "/metrics", 1500).then(r => r.ok ? r.text() : null).catch(() => null),
      ]);
      return [m.name, raft, metrics == null ? null : requestsTotal(metrics)];
    } catch (e) {
      return [m.name, null, null];
    }
  }));
  // requests/s: each reachable master's counter since its previous sample (a master that went away, or
  // restarted with its counter from zero, adds nothing rather than a negative rate)
  const now = performance.now() / 1000;
  const prev = state.last;
  let req = 0, commit = 0;
  const totals = {};
  for (const [name, raft, n] of results) {
    state.raft[name] = raft;
    if (!raft) continue;
    commit = Math.max(commit, raft.commitIndex || 0);
    if (n == null) continue;  // /metrics off ([api] metrics = false) or failed this time
    totals[name] = n;
    if (prev && name in prev.totals) req += Math.max(0, n - prev.totals[name]);
  }
  if (prev) {
    const dt = now - prev.t;
    state.history.push({req: req / dt, commit: Math.max(0, commit - prev.commit) / dt});
    if (state.history.length > HISTORY) state.history.shift();
  }
  state.last = {t: now, totals, commit};
  renderMasters();
  renderChart();
}

// ---- rendering ----------------------------------------------------------------------------------------
let renderPending = false;
function changed() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => { renderPending = false; renderObjects(); }, 100);
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function badge(text, cls) { return el("span", {class: "st " + cls}, text); }

function fill(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows.slice(0, MAX_ROWS));
  if (rows.length > MAX_ROWS) body.append(el("tr", {}, el("td", {class: "muted", colSpan: 8}, `… ${rows.length - MAX_ROWS} more`)));
}

function setCount(id, text) { document.getElementById(id).textContent = text; }

function age(ts) {
  if (!ts) return "";
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 120) return Math.round(s) + "s";
  if (s < 7200) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

function byName(a, b) { return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0; }
function values(resource) { return [...state.objects[resource].values()]; }

function renderMasters() {
  let maxCommit = 0;
  for (const r of Object.values(state.raft)) if (r) maxCommit = Math.max(maxCommit, r.commitIndex || 0);
  let up = 0, leader = null;
  const rows = state.masters.map(m => {
    const r = state.raft[m.name];
    if (!r) {
      return el("tr", {"data-name": m.name, "data-role": "unreachable", class: m === state.current ? "current" : ""},
                el("td", {}, m.name), el("td", {}, badge("unreachable", "st-bad")), el("td", {}), el("td", {}),
                el("td", {}), el("td", {}), el("td", {}), el("td", {}, badge("no", "st-bad")));
    }
    up++;
    if (r.role === "leader") leader = m.name;
    const lag = maxCommit - (r.appliedIndex || 0);
    const roleCls = r.role === "leader" ? "st-ok" : r.role === "follower" ? "st-info" : "st-warn";
    const tr = el("tr", {"data-name": m.name, "data-role": r.role, class: m === state.current ? "current" : ""});
    tr.append(el("td", {}, m.name), el("td", {}, badge(r.role, roleCls)), el("td", {}, r.term),
              el("td", {}, r.commitIndex), el("td", {}, r.appliedIndex),
              el("td", {}, badge(String(lag), lag <= 5 ? "st-ok" : lag <= 100 ? "st-warn" : "st-bad")),
              el("td", {}, fmtBytes(r.storeBytes) + (r.quotaBytes ? " / " + fmtBytes(r.quotaBytes) : "")),
              el("td", {}, r.ready ? badge("yes", "st-ok") : badge("catching up", "st-warn")));
    return tr;
  });
  fill("masters", rows);
  setCount("masters-count", `${up}/${state.masters.length} up` + (leader ? `, leader ${leader}` : ", no leader"));
  document.getElementById("summary").textContent = leader ? `leader ${leader}` : "no leader";
}

function fmtBytes(n) {
  if (n == null) return "";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  if (n < 1073741824) return (n / 1048576).toFixed(1) + " MiB";
  return (n / 1073741824).toFixed(1) + " GiB";
}

// a Kubernetes quantity of bytes ("24683664Ki", "512Mi", "1073741824") as the nearest binary unit
function fmtQuantity(q) {
  if (!q) return "";
  const m = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return String(q);
  const mult = {Ki: 1024, Mi: 1048576, Gi: 1073741824, Ti: 1099511627776, k: 1e3, M: 1e6, G: 1e9, T: 1e12};
  return fmtBytes(Math.round(parseFloat(m[1]) * (mult[m[2]] || 1)));
}

function phaseOf(pod) { return (pod.status || {}).phase || "Pending"; }

function renderObjects() {
  const pods = values("pods").sort(byName);
  const perNode = {};
  const phases = Object.fromEntries(PHASES.map(p => [p, 0]));
  for (const p of pods) {
    phases[phaseOf(p)] = (phases[phaseOf(p)] || 0) + 1;
    const host = (p.spec || {}).nodeName;
    if (host) perNode[host] = (perNode[host] || 0) + 1;
  }

  const nodes = values("nodes").sort(byName);
  let ready = 0;
  fill("nodes", nodes.map(n => {
    const cond = ((n.status || {}).conditions || []).find(c => c.type === "Ready");
    const ok = cond && cond.status === "True";
    if (ok) ready++;
    const cap = (n.status || {}).capacity || {};
    return el("tr", {"data-name": n.metadata.name, "data-ready": ok ? "true" : "false"},
              el("td", {}, n.metadata.name), el("td", {}, ok ? badge("Ready", "st-ok") : badge("NotReady", "st-bad")),
              el("td", {}, perNode[n.metadata.name] || 0), el("td", {}, cap.cpu || ""), el("td", {}, fmtQuantity(cap.memory)));
  }));
  setCount("nodes-count", `${ready}/${nodes.length} ready`);

  const rcs = values("replicationcontrollers").sort(byName);
  const selects = (rc, p) => {
    const sel = Object.entries((rc.spec || {}).selector || {});
    return sel.length > 0 && p.metadata.namespace === rc.metadata.namespace &&
      sel.every(([k, v]) => ((p.metadata.labels || {})[k]) === v);
  };
  fill("pods", pods.map(p => {
    const phase = phaseOf(p);
    const st = p.status || {};
    const owner = rcs.find(rc => selects(rc, p));
    return el("tr", {"data-name": p.metadata.name, "data-phase": phase, "data-host": (p.spec || {}).nodeName || "",
                     "data-owner": owner ? owner.metadata.name : ""},
              el("td", {}, p.metadata.namespace || ""), el("td", {}, p.metadata.name),
              el("td", {}, owner ? owner.metadata.name : ""),
              el("td", {}, badge(phase, PHASE_CLASS[phase] || "st-idle")),
              el("td", {}, (p.spec || {}).nodeName || el("span", {class: "muted"}, "unscheduled")),
              el("td", {}, st.podIP || ""), el("td", {}, age(p.metadata.creationTimestamp)));
  }));
  setCount("pods-count", String(pods.length));
  document.getElementById("phases").replaceChildren(
    ...PHASES.filter(p => phases[p]).map(p => badge(`${p} ${phases[p]}`, PHASE_CLASS[p])));

  fill("rcs", rcs.map(rc => {
    const desired = (rc.spec || {}).replicas || 0;
    // current: the active pods it selects (the controller keeps no status.replicas)
    const mine = pods.filter(p => selects(rc, p));
    const current = mine.filter(p => !["Succeeded", "Failed"].includes(phaseOf(p))).length;
    const running = mine.filter(p => phaseOf(p) === "Running").length;
    const cls = current === desired && running === desired ? "st-ok" : "st-warn";
    return el("tr", {"data-name": rc.metadata.name, "data-desired": desired, "data-current": current},
              el("td", {}, rc.metadata.namespace || ""), el("td", {}, rc.metadata.name), el("td", {}, desired),
              el("td", {}, badge(String(current), current === desired ? "st-ok" : "st-warn")),
              el("td", {}, badge(String(running), cls)));
  }));
  setCount("rcs-count", String(rcs.length));

  const services = values("services").sort(byName);
  fill("services", services.map(s => {
    const ep = state.objects.endpoints.get(key(s));
    const addrs = [];
    for (const sub of (ep && ep.subsets) || []) {
      for (const a of sub.addresses || []) for (const port of sub.ports || [{}]) addrs.push(a.ip + (port.port ? ":" + port.port : ""));
    }
    const ports = ((s.spec || {}).ports || []).map(p => p.port + (p.protocol && p.protocol !== "TCP" ? "/" + p.protocol : "")).join(", ");
    return el("tr", {"data-name": s.metadata.name, "data-endpoints": addrs.length},
              el("td", {}, s.metadata.namespace || ""), el("td", {}, s.metadata.name), el("td", {}, (s.spec || {}).clusterIP || ""),
              el("td", {}, ports),
              el("td", {class: "msg"}, addrs.length ? addrs.join(" ") : badge("none", "st-warn")));
  }));
  setCount("services-count", String(services.length));

  const events = values("events");
  const when = e => e.lastTimestamp || e.firstTimestamp || (e.metadata || {}).creationTimestamp || "";
  events.sort((a, b) => when(a) < when(b) ? 1 : when(a) > when(b) ? -1 : 0);
  fill("events", events.slice(0, 25).map(e => {
    const io = e.involvedObject || {};
    return el("tr", {"data-reason": e.reason || ""},
              el("td", {}, age(when(e))), el("td", {}, (io.kind || "") + "/" + (io.name || "")),
              el("td", {}, badge(e.reason || "", e.type === "Warning" ? "st-bad" : "st-info")),
              el("td", {class: "msg"}, e.message || ""));
  }));
  setCount("events-count", String(events.length));
}

function renderChart() {
  const canvas = document.getElementById("chart");
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const pad = {l: 40, r: 8, t: 8, b: 16};
  const hist = state.history;
  const top = Math.max(1, ...hist.map(p => Math.max(p.req, p.commit)));
  const scale = niceCeil(top);
  g.strokeStyle = "#e3e6ec"; g.fillStyle = "#6b7385"; g.font = "11px system-ui, sans-serif"; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * i / 4;
    g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
    const tick = scale * (4 - i) / 4;
    g.fillText(Number.isInteger(tick) ? String(tick) : tick.toFixed(1), 4, y + 4);
  }
  g.fillText("last " + Math.round(HISTORY * POLL_MS / 60000) + " min", pad.l, h - 3);
  const x = i => pad.l + (w - pad.l - pad.r) * (i + HISTORY - hist.length) / (HISTORY - 1);
  const y = v => pad.t + (h - pad.t - pad.b) * (1 - v / scale);
  for (const [field, color] of [["req", "#3b6fd4"], ["commit", "#1f9d55"]]) {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    hist.forEach((p, i) => (i ? g.lineTo(x(i), y(p[field])) : g.moveTo(x(i), y(p[field]))));
    g.stroke();
  }
  const lastP = hist[hist.length - 1];
  document.getElementById("rate-req").textContent = lastP ? lastP.req.toFixed(1) : "–";
  document.getElementById("rate-commit").textContent = lastP ? lastP.commit.toFixed(1) : "–";
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// ---- start --------------------------------------------------------------------------------------------
async function start() {
  const r = await fetch("/ui/masters.json");
  const listed = (await r.json()).masters || [];
  const here = location.origin;
  state.masters = listed.length ? listed : [{name: location.host, url: here}];
  // the master that served the page: the browser reaches it at this origin (maybe another host name than listed)
  let mine = state.masters.find(m => m.url === here);
  if (!mine) {
    const me = await (await fetch("/raft")).json();
    mine = state.masters.find(m => m.name === me.name) || state.masters[0];
    mine.url = here;
  }
  connect(mine);
  poll();
  setInterval(poll, POLL_MS);
  setInterval(() => renderObjects(), 10000);  // ages
  window.addEventListener("resize", renderChart);
}

window.dashboard = state;  // for the browser tests and for curious operators (devtools)
start();
