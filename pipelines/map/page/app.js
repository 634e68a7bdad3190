// FleetSync live map, the page. Plain JavaScript served as it is (no build step): Leaflet draws the basemap (the
// bundled Natural Earth outline, or a tile server when configured); the trucks are drawn on one canvas of their own,
// because 10,000 DOM or SVG markers would not stay smooth. The server sends a snapshot, then coalesced deltas.
"use strict";

const COLORS = {
  moving: "#1f9d55",
  idling: "#e59f00",
  parked: "#2f6fd6",
  offline: "#8a8f98",
  nofix: "#d64545",
};
const CONDITION_TEXT = {
  moving: "moving",
  idling: "standing, engine on",
  parked: "parked",
  offline: "offline",
  nofix: "no GPS fix",
};
const FEED_MAX = 200;
const DOT_ABOVE = 2000; // more trucks than this in view: small dots instead of arrows
const LABELS_BELOW = 300; // fewer trucks than this in view: labels
const HIT_PX = 12;

const trucks = new Map(); // id -> view (see pipelines/map/state.ts TruckView)
const trails = new Map(); // id -> [[lat, lon], ...]
let trailPoints = 30;
let selected = null;
let following = false;
let showTrails = false;
let showLabels = true;
let trailsRequested = false;
let socket = null;
let fitted = false;
let drawn = { ids: [], xs: new Float32Array(0), ys: new Float32Array(0) };
const listeners = { delta: [] };

// ---- map and basemap
const map = L.map("map", {
  zoomAnimation: false, // the truck canvas redraws on every move; no CSS-scaled intermediate frames to keep in step
  fadeAnimation: false,
  markerZoomAnimation: false,
  minZoom: 2,
  maxZoom: 18,
  worldCopyJump: false,
}).setView([50, 10], 4);
const outlineRenderer = L.canvas({ padding: 0.3 });

fetch("config.json")
  .then((r) => r.json())
  .then((config) => {
    if (config.tileUrl) L.tileLayer(config.tileUrl, { maxZoom: 18 }).addTo(map);
    if (config.trailPoints) trailPoints = config.trailPoints;
  })
  .catch(() => undefined);

fetch("world.json")
  .then((r) => r.json())
  .then((world) => {
    // Land filled without outlines (Natural Earth rings that cross the antimeridian would draw a line across the
    // map), then the borders between countries as a mesh of shared arcs, which never closes across it.
    const land = topojson.feature(world, world.objects.land);
    const borders = topojson.mesh(world, world.objects.countries, (a, b) => a !== b);
    L.geoJSON(land, {
      renderer: outlineRenderer,
      interactive: false,
      style: { stroke: false, fillColor: "#eef0ea", fillOpacity: 1 },
    }).addTo(map);
    L.geoJSON(borders, {
      renderer: outlineRenderer,
      interactive: false,
      style: { color: "#9aa6b2", weight: 0.7, fill: false },
    }).addTo(map);
    document.body.dataset.basemap = "ready";
  });

// ---- the truck canvas
const canvas = document.createElement("canvas");
canvas.id = "trucks";
map.getContainer().appendChild(canvas);
const ctx = canvas.getContext("2d");
let framePending = false;

function resize() {
  const size = map.getSize();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = size.x * dpr;
  canvas.height = size.y * dpr;
  canvas.style.width = `${size.x}px`;
  canvas.style.height = `${size.y}px`;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}

function requestDraw() {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(() => {
    framePending = false;
    draw();
  });
}

function draw() {
  const size = map.getSize();
  ctx.clearRect(0, 0, size.x, size.y);
  const ids = [];
  const xs = new Float32Array(trucks.size);
  const ys = new Float32Array(trucks.size);
  const conds = [];
  const headings = [];
  for (const t of trucks.values()) {
    if (t.lat === null || t.lon === null) continue;
    const p = map.latLngToContainerPoint([t.lat, t.lon]);
    if (p.x < -20 || p.y < -20 || p.x > size.x + 20 || p.y > size.y + 20) continue;
    xs[ids.length] = p.x;
    ys[ids.length] = p.y;
    ids.push(t.id);
    conds.push(t.condition);
    headings.push(t.headingDeg);
  }
  if (showTrails) drawTrails();
  const dots = ids.length > DOT_ABOVE;
  // One fill per colour: switching fillStyle per truck is what costs with thousands of them.
  for (const condition of Object.keys(COLORS)) {
    ctx.fillStyle = COLORS[condition];
    ctx.beginPath();
    for (let i = 0; i < ids.length; i += 1) {
      if (conds[i] !== condition) continue;
      if (dots) ctx.rect(xs[i] - 2, ys[i] - 2, 4, 4);
      else if (condition === "moving" && headings[i] !== null) arrow(xs[i], ys[i], headings[i]);
      else {
        ctx.moveTo(xs[i] + 5, ys[i]);
        ctx.arc(xs[i], ys[i], 5, 0, Math.PI * 2);
      }
    }
    ctx.fill();
  }
  if (!dots) {
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 0; i < ids.length; i += 1) {
      if (conds[i] === "moving" && headings[i] !== null) arrow(xs[i], ys[i], headings[i]);
    }
    ctx.stroke();
  }
  if (showLabels && ids.length < LABELS_BELOW) {
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.fillStyle = "#1b1f24";
    for (let i = 0; i < ids.length; i += 1) {
      ctx.strokeText(ids[i], xs[i] + 9, ys[i] + 4);
      ctx.fillText(ids[i], xs[i] + 9, ys[i] + 4);
    }
  }
  if (selected) {
    const t = trucks.get(selected);
    if (t && t.lat !== null) {
      const p = map.latLngToContainerPoint([t.lat, t.lon]);
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(p.x, p.y, 11, 0, Math.PI * 2);
      ctx.stroke();
    }
  }
  drawn = { ids, xs, ys };
}

/** A triangle pointing along the heading (degrees from north, clockwise), added to the current path. */
function arrow(x, y, headingDeg) {
  const a = (headingDeg * Math.PI) / 180;
  const sin = Math.sin(a);
  const cos = Math.cos(a);
  const pt = (dx, dy) => [x + dx * cos - dy * sin, y + dx * sin + dy * cos];
  const [x1, y1] = pt(0, -9);
  const [x2, y2] = pt(6, 7);
  const [x3, y3] = pt(0, 3);
  const [x4, y4] = pt(-6, 7);
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.lineTo(x3, y3);
  ctx.lineTo(x4, y4);
  ctx.closePath();
}

function drawTrails() {
  ctx.lineWidth = 2;
  for (const [id, points] of trails) {
    const t = trucks.get(id);
    if (!t || points.length < 2) continue;
    ctx.strokeStyle = COLORS[t.condition] + "99";
    ctx.beginPath();
    points.forEach(([lat, lon], i) => {
      const p = map.latLngToContainerPoint([lat, lon]);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    });
    ctx.stroke();
  }
}

map.on("move zoom viewreset", requestDraw);
map.on("resize", () => {
  resize();
  requestDraw();
});
resize();

map.on("click", (e) => {
  const { x, y } = e.containerPoint;
  let best = null;
  let bestD = HIT_PX * HIT_PX;
  for (let i = 0; i < drawn.ids.length; i += 1) {
    const d = (drawn.xs[i] - x) ** 2 + (drawn.ys[i] - y) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = drawn.ids[i];
    }
  }
  if (best) select(best, false);
});

// ---- details, follow, search
const $ = (id) => document.getElementById(id);
const fmt = (v, unit, digits = 0) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(digits)} ${unit}`);

function select(id, center) {
  if (!trucks.has(id)) return;
  selected = id;
  following = false;
  $("follow").setAttribute("aria-pressed", "false");
  $("details").hidden = false;
  renderDetails();
  const t = trucks.get(id);
  if (center && t.lat !== null) map.setView([t.lat, t.lon], Math.max(map.getZoom(), 10));
  requestDraw();
}

function renderDetails() {
  const t = selected && trucks.get(selected);
  if (!t) return;
  $("details-id").textContent = t.id;
  $("details-condition").textContent = CONDITION_TEXT[t.condition];
  $("details-condition").style.color = COLORS[t.condition];
  const field = (name, text) => {
    document.querySelector(`#details [data-field="${name}"]`).textContent = text;
  };
  field("position", t.lat === null ? "–" : `${t.lat.toFixed(5)}, ${t.lon.toFixed(5)}`);
  field("headingDeg", fmt(t.headingDeg, "°", 1));
  field("speedKmh", fmt(t.speedKmh, "km/h", 1));
  field("engineSpeedRpm", fmt(t.engineSpeedRpm, "rpm"));
  field("fuelLevelPct", fmt(t.fuelLevelPct, "%", 1));
  field("coolantTempC", fmt(t.coolantTempC, "°C"));
  field("dtcs", t.dtcs.length ? t.dtcs.join(", ") : "none");
  field("ignition", t.ignition === null ? "–" : t.ignition ? "on" : "off");
  field("online", t.online === null ? "–" : t.online ? "online" : "offline");
  field("ts", t.ts ?? "–");
  field("seq", t.seq === null ? "–" : String(t.seq));
  field("lagMs", fmt(t.lagMs, "ms"));
  const details = $("details");
  details.dataset.truck = t.id;
  details.dataset.seq = t.seq === null ? "" : String(t.seq);
  details.dataset.condition = t.condition;
}

$("follow").addEventListener("click", () => {
  following = !following;
  $("follow").setAttribute("aria-pressed", String(following));
  const t = trucks.get(selected);
  if (following && t && t.lat !== null) map.setView([t.lat, t.lon], Math.max(map.getZoom(), 12));
});
$("close-details").addEventListener("click", () => {
  selected = null;
  following = false;
  $("details").hidden = true;
  requestDraw();
});

function matches(text) {
  const q = text.trim().toLowerCase();
  if (!q) return [];
  const starts = [];
  const contains = [];
  for (const id of trucks.keys()) {
    const i = id.toLowerCase().indexOf(q);
    if (i === 0) starts.push(id);
    else if (i > 0) contains.push(id);
    if (starts.length >= 20) break;
  }
  return [...starts.sort(), ...contains.sort()].slice(0, 20);
}
$("search").addEventListener("input", () => {
  const list = $("matches");
  list.replaceChildren(
    ...matches($("search").value).map((id) => {
      const li = document.createElement("li");
      li.textContent = id;
      li.dataset.truck = id;
      return li;
    }),
  );
});
$("search").addEventListener("keydown", (e) => {
  if (e.key !== "Enter") return;
  const first = matches($("search").value)[0];
  if (first) pick(first);
});
$("matches").addEventListener("click", (e) => {
  const li = e.target.closest("li");
  if (li) pick(li.dataset.truck);
});
function pick(id) {
  $("matches").replaceChildren();
  $("search").value = id;
  select(id, true);
}

$("show-trails").addEventListener("change", (e) => {
  showTrails = e.target.checked;
  if (showTrails && !trailsRequested && socket && socket.readyState === WebSocket.OPEN) {
    trailsRequested = true;
    socket.send(JSON.stringify({ type: "trails" }));
  }
  requestDraw();
});
$("show-labels").addEventListener("change", (e) => {
  showLabels = e.target.checked;
  requestDraw();
});

// ---- event feed and counts
/** Newest first by the event's time: after a map restart, topics are re-read side by side, not in time order. */
function addEvents(entries) {
  const feed = $("feed");
  for (const entry of entries) {
    const li = document.createElement("li");
    li.dataset.truck = entry.truckId;
    li.dataset.kind = entry.kind;
    li.dataset.id = String(entry.id);
    li.dataset.ts = entry.ts;
    if (entry.alert) {
      li.dataset.alert = entry.alert.state;
      li.dataset.detector = entry.alert.detector;
    }
    const time = document.createElement("time");
    time.textContent = entry.ts.slice(11, 19);
    const who = document.createElement("b");
    who.textContent = entry.truckId;
    li.append(time, who, ` ${entry.text}`);
    let after = feed.firstElementChild;
    while (after && after.dataset.ts > entry.ts) after = after.nextElementSibling;
    feed.insertBefore(li, after);
  }
  while (feed.childElementCount > FEED_MAX) feed.lastElementChild.remove();
}
$("feed").addEventListener("click", (e) => {
  const li = e.target.closest("li");
  if (li) select(li.dataset.truck, true);
});

function setCounts(counts) {
  let total = 0;
  for (const [condition, n] of Object.entries(counts)) {
    total += n;
    const b = document.querySelector(`.count[data-condition="${condition}"] b`);
    if (b) b.textContent = String(n);
  }
  $("total").textContent = String(total);
}

// ---- the socket
function upsert(view) {
  const before = trucks.get(view.id);
  trucks.set(view.id, view);
  if (view.lat === null) return;
  if (before && before.lat === view.lat && before.lon === view.lon) return;
  let trail = trails.get(view.id);
  if (!trail) trails.set(view.id, (trail = []));
  trail.push([view.lat, view.lon]);
  if (trail.length > trailPoints) trail.shift();
}

function onMessage(message) {
  if (message.type === "snapshot") {
    trucks.clear();
    for (const view of message.trucks) trucks.set(view.id, view);
    $("feed").replaceChildren();
    addEvents(message.events);
    setCounts(message.counts);
    if (!fitted) fitFleet();
  } else if (message.type === "delta") {
    for (const view of message.trucks) upsert(view);
    if (!fitted) fitFleet();
    for (const id of message.removed) {
      trucks.delete(id);
      trails.delete(id);
    }
    addEvents(message.events);
    setCounts(message.counts);
    for (const fn of listeners.delta) fn(message);
  } else if (message.type === "trails") {
    for (const [id, points] of Object.entries(message.trails)) trails.set(id, points);
  }
  if (selected) {
    renderDetails();
    const t = trucks.get(selected);
    if (following && t && t.lat !== null) map.panTo([t.lat, t.lon], { animate: false });
  }
  requestDraw();
}

/** The first time there are trucks, show them all (a fleet is usually in one region, not the whole world). */
function fitFleet() {
  const points = [...trucks.values()].filter((t) => t.lat !== null).map((t) => [t.lat, t.lon]);
  if (points.length === 0) return;
  fitted = true;
  map.fitBounds(points, { maxZoom: 10, padding: [60, 60] });
}

function connect(delayMs) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  socket = new WebSocket(url);
  $("conn").dataset.state = "connecting";
  $("conn").textContent = "connecting…";
  socket.addEventListener("open", () => {
    delayMs = 500;
    $("conn").dataset.state = "open";
    $("conn").textContent = "live";
    if (showTrails) socket.send(JSON.stringify({ type: "trails" }));
    trailsRequested = showTrails;
  });
  socket.addEventListener("message", (e) => onMessage(JSON.parse(e.data)));
  socket.addEventListener("close", () => {
    $("conn").dataset.state = "closed";
    $("conn").textContent = "reconnecting…";
    setTimeout(() => connect(Math.min(delayMs * 2, 10_000)), delayMs);
  });
}
connect(500);

// For the browser test and the benchmark: what the page holds and where it drew each truck.
window.fleetsyncMap = {
  map,
  trucks,
  drawnIds: () => drawn.ids.slice(),
  /** Where a truck was drawn, in page coordinates (for a real mouse click), or null. */
  pointOf(id) {
    const i = drawn.ids.indexOf(id);
    if (i < 0) return null;
    const box = map.getContainer().getBoundingClientRect();
    return { x: box.left + drawn.xs[i], y: box.top + drawn.ys[i] };
  },
  select,
  onDelta: (fn) => listeners.delta.push(fn),
};
