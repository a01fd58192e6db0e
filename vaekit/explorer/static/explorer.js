// The vaekit explorer page: plain JavaScript against the JSON API under /api (vaekit/explorer/app.py).
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
let info = null;
let z = [];

function status(message) { $("status").textContent = message || ""; }

async function api(path, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail :
      (data.detail || []).map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return data;
}

// Run fn, showing its error (if any) in the status line.
async function attempt(fn) {
  try { status(""); await fn(); } catch (error) { status(error.message); }
}

function render(item, caption) {
  const box = document.createElement("div");
  box.className = "item";
  if (item.text !== undefined) {
    const p = document.createElement("p");
    p.className = "sentence";
    p.textContent = item.text;
    box.appendChild(p);
  } else {
    const img = document.createElement("img");
    img.src = item.image;
    img.alt = caption || "decoded";
    box.appendChild(img);
    if (item.audio) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.src = item.audio;
      box.appendChild(audio);
    }
  }
  return box;
}

function show(target, items) {
  target.replaceChildren(...items.map((item) => render(item)));
}

function label() {
  return info.conditional ? parseInt($("label").value, 10) : null;
}

function readFile(input) {
  return new Promise((resolve, reject) => {
    const file = input.files[0];
    if (!file) { resolve(null); return; }
    if (file.size > info.max_file_bytes) {
      reject(new Error(`${file.name} is larger than ${Math.round(info.max_file_bytes / 1024)} KiB`));
      return;
    }
    const reader = new FileReader();
    reader.onload = () => resolve({ file: reader.result });
    reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

async function source(indexId, fileId, textId) {
  if (info.kind === "text" && $(textId).value.trim()) return { text: $(textId).value };
  const upload = info.kind === "text" ? null : await readFile($(fileId));
  return upload || { test: parseInt($(indexId).value, 10) };
}

// --- samples -------------------------------------------------------------------------------
async function refreshSamples() {
  const data = await api("/api/samples", { n: 16, seed: parseInt($("seed").value, 10) || 0, label: label() });
  show($("samples"), data.items);
}

// --- sliders: at most one request in flight, then the latest z -------------------------------
let decoding = false;
let pending = false;

async function decodeNow() {
  if (decoding) { pending = true; return; }
  decoding = true;
  try {
    const data = await api("/api/decode", { z, label: label() });
    show($("decoded"), [data.item]);
  } catch (error) { status(error.message); }
  decoding = false;
  if (pending) { pending = false; decodeNow(); }
}

function buildSliders() {
  const box = $("sliders");
  box.replaceChildren();
  for (let i = 0; i < info.sliders; i++) {
    const name = document.createElement("label");
    name.textContent = `z${i + 1}`;
    name.htmlFor = `z${i}`;
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", min: -3, max: 3, step: 0.05, value: z[i], id: `z${i}` });
    const value = document.createElement("span");
    value.textContent = z[i].toFixed(2);
    slider.addEventListener("input", () => {
      z[i] = parseFloat(slider.value);
      value.textContent = z[i].toFixed(2);
      decodeNow();
    });
    box.append(name, slider, value);
  }
  if (info.latent_size > info.sliders) {
    $("slider-note").textContent = `The first ${info.sliders} of ${info.latent_size} dimensions; the rest keep ` +
      "their values.";
  }
  decodeNow();
}

async function startFromTest() {
  const data = await api("/api/encode", { input: { test: parseInt($("start-index").value, 10) }, label: null });
  z = data.z;
  buildSliders();
}

// --- the 2-D latent map ---------------------------------------------------------------------
async function drawMap() {
  const data = await api("/api/latent-map");
  const canvas = $("map");
  const context = canvas.getContext("2d");
  const extent = Math.max(3, ...data.points.map(([a, b]) => Math.max(Math.abs(a), Math.abs(b)))) * 1.05;
  const toPixel = (v, size) => (v / extent + 1) / 2 * size;
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = "#ddd";
  context.beginPath();
  context.moveTo(canvas.width / 2, 0); context.lineTo(canvas.width / 2, canvas.height);
  context.moveTo(0, canvas.height / 2); context.lineTo(canvas.width, canvas.height / 2);
  context.stroke();
  data.points.forEach(([a, b], i) => {
    context.fillStyle = data.labels ? COLOURS[data.labels[i] % COLOURS.length] : "#1f77b4";
    context.fillRect(toPixel(a, canvas.width) - 1.5, canvas.height - toPixel(b, canvas.height) - 1.5, 3, 3);
  });
  canvas.onclick = (event) => attempt(async () => {
    const rect = canvas.getBoundingClientRect();
    const a = ((event.clientX - rect.left) / rect.width * 2 - 1) * extent;
    const b = (1 - (event.clientY - rect.top) / rect.height * 2) * extent;
    const point = [Math.max(-10, Math.min(10, a)), Math.max(-10, Math.min(10, b))];
    const decoded = await api("/api/decode", { z: point, label: label() });
    show($("map-decoded"), [decoded.item]);
    $("map-decoded").appendChild(document.createTextNode(`z = (${point[0].toFixed(2)}, ${point[1].toFixed(2)})`));
  });
}

// --- interpolation --------------------------------------------------------------------------
async function interpolate() {
  const body = { a: await source("index-a", "file-a", "text-a"), b: await source("index-b", "file-b", "text-b"),
                 steps: parseInt($("steps").value, 10) };
  if (info.conditional) Object.assign(body, { label_a: label(), label_b: label() });
  const data = await api("/api/interpolate", body);
  show($("interpolation"), data.items);
}

// --- one input: reconstruction, log-likelihood, compressed size; its class -----------------------
function figure(item, caption) {
  const fig = document.createElement("figure");
  const text = document.createElement("figcaption");
  text.textContent = caption;
  fig.append(render(item, caption), text);
  return fig;
}

function download(base64, name, size) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  link.download = name;
  link.id = "compressed-link";
  link.textContent = `download ${name} (${size} bytes)`;
  return link;
}

async function analyze(input) {
  const box = $("analysis");
  box.replaceChildren();
  $("classification").replaceChildren();
  if (info.generative) {
    const data = await api("/api/analyze", { input, label: info.conditional ? label() : null });
    const facts = document.createElement("div");
    facts.id = "facts";
    const lines = [];
    if (data.log_likelihood !== undefined) {
      lines.push(`log p(x) ≈ ${data.log_likelihood.toFixed(2)} nats (k=${data.k}), ` +
                 `${data.bits_per_dim.toFixed(3)} bits per dimension`);
    }
    if (data.compressed_bytes !== undefined) lines.push(`compressed: ${data.compressed_bytes} bytes`);
    if (data.compressed_error) lines.push(`no compressed file: ${data.compressed_error}`);
    lines.forEach((line) => { const p = document.createElement("p"); p.textContent = line; facts.appendChild(p); });
    if (data.compressed) facts.appendChild(download(data.compressed, data.compressed_name, data.compressed_bytes));
    const reconstruction = figure(data.reconstruction, "reconstruction");
    reconstruction.id = "reconstruction";
    box.append(figure(data.input, "input"), reconstruction, facts);
  }
  if (info.classifies) {
    const data = await api("/api/classify", { input, label: null });
    const bars = document.createElement("div");
    bars.className = "bars";
    data.probabilities.forEach((p, c) => {
      const bar = document.createElement("div");
      bar.className = c === data.predicted ? "bar top" : "bar";
      bar.style.width = `${Math.max(1, p * 200)}px`;
      const holder = document.createElement("div");
      holder.appendChild(bar);
      bars.append(document.createTextNode(String(c)), holder, document.createTextNode(p.toFixed(3)));
    });
    const summary = document.createElement("p");
    summary.id = "predicted";
    let text = `predicted class ${data.predicted} (p = ${data.probabilities[data.predicted].toFixed(3)}), ` +
               `predictive entropy ${data.entropy.toFixed(3)} nats`;
    if (data.mutual_information !== null) {
      text += `, mutual information ${data.mutual_information.toFixed(3)} nats over ${data.draws} weight draws`;
    }
    summary.textContent = text;
    const target = $("classification");
    if (!info.generative) target.appendChild(figure(data.item, "input"));
    const column = document.createElement("div");
    column.append(summary, bars);
    target.appendChild(column);
  }
}

// --- start ----------------------------------------------------------------------------------
async function start() {
  info = await api("/api/info");
  $("model-info").textContent = `${info.model} · ${info.kind} · latent size ${info.latent_size} · ` +
    `${info.test_count} test examples of ${info.data}`;
  document.querySelectorAll(".text-choice").forEach((e) => { e.hidden = info.kind !== "text"; });
  document.querySelectorAll(".file-choice").forEach((e) => { e.hidden = info.kind === "text"; });
  if (info.conditional) {
    $("label-box").hidden = false;
    for (let c = 0; c < info.classes; c++) $("label").add(new Option(String(c), String(c)));
  }
  $("upload").addEventListener("change", () => attempt(async () => {
    const input = await readFile($("upload"));
    if (input) await analyze(input);
  }));
  $("analyze-sentence").addEventListener("click", () => attempt(() => analyze({ text: $("sentence").value })));
  $("analyze-test").addEventListener("click",
    () => attempt(() => analyze({ test: parseInt($("test-index").value, 10) })));
  if (!info.generative) return;
  for (const id of ["samples-panel", "traverse-panel", "interpolate-panel"]) $(id).hidden = false;
  $("refresh").addEventListener("click", () => attempt(async () => {
    $("seed").value = (parseInt($("seed").value, 10) || 0) + 1;
    await refreshSamples();
  }));
  $("zero").addEventListener("click", () => { z = z.map(() => 0); buildSliders(); });
  $("from-test").addEventListener("click", () => attempt(startFromTest));
  $("interpolate").addEventListener("click", () => attempt(interpolate));
  $("label").addEventListener("change", () => attempt(async () => { await refreshSamples(); decodeNow(); }));
  z = new Array(info.latent_size).fill(0);
  buildSliders();
  await refreshSamples();
  if (info.latent_map) { $("map-panel").hidden = false; await drawMap(); }
}

attempt(start);
