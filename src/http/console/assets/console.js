// Milena's web console: dates in the browser's time zone, and the overview's live charts
// (rates computed from the cumulative counters of /console/stats, drawn as SVG polylines).
"use strict";

function showDates() {
  for (const t of document.querySelectorAll("time[data-ms]")) {
    const ms = Number(t.dataset.ms);
    if (Number.isFinite(ms) && ms >= 0) {
      t.textContent = new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
      t.title = ms + " ms";
    }
  }
}

function human(n) {
  const units = ["", "k", "M", "G", "T"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n.toFixed(n < 10 ? 1 : 0)) + units[i];
}

function startCharts() {
  const charts = Array.from(document.querySelectorAll("figure.chart"));
  if (charts.length === 0) return;
  const points = 60;
  const series = {};
  let last = null;
  async function poll() {
    try {
      // From the origin, not the page's address: a page opened as https://user:pw@host/ has
      // credentials in its address, and fetch refuses URLs resolved against it.
      const response = await fetch(new URL("/console/stats", location.origin), { cache: "no-store" });
      if (!response.ok) return;
      const now = { t: performance.now(), v: await response.json() };
      if (last) {
        const seconds = Math.max((now.t - last.t) / 1000, 0.001);
        for (const chart of charts) {
          const key = chart.dataset.series;
          const rate = Math.max(0, (now.v[key] - last.v[key]) / seconds);
          const values = (series[key] = series[key] || []);
          values.push(rate);
          if (values.length > points) values.shift();
          draw(chart, values);
          chart.querySelector(".rate").textContent = human(rate);
        }
      }
      last = now;
    } catch (e) {
      // The broker stopped or restarted: keep polling quietly.
    }
  }
  poll();
  setInterval(poll, 2000);
}

function draw(chart, values) {
  const svg = chart.querySelector("svg");
  const max = Math.max(1, ...values);
  const step = 300 / 59;
  const coords = values.map((v, i) =>
    (300 - (values.length - 1 - i) * step).toFixed(1) + "," + (78 - (v / max) * 74).toFixed(1));
  let line = svg.querySelector("polyline");
  if (!line) {
    line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    svg.appendChild(line);
  }
  line.setAttribute("points", coords.join(" "));
}

document.addEventListener("DOMContentLoaded", () => {
  showDates();
  startCharts();
});
