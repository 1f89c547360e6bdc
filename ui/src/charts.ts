// charts.ts — the overview's two SVG charts, drawn by hand: throughput (stacked bars of jobs
// finished per bucket, failures on top) and queue depth (a line over time). Drawn at the SVG's
// pixel width, and again when that changes, so that text keeps its size on a phone.

import { fill, s } from './dom.js';
import { count } from './format.js';

const HEIGHT = 180;
const PAD = { left: 40, right: 10, top: 12, bottom: 24 };

/** The smallest of 1, 2, 5 × 10^k that is ≥ v (at least 1). */
function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Frame {
  width: number;
  plotW: number;
  plotH: number;
  yMax: number;
}

/** Sets the SVG up for its current width; draws the grid, y labels and accessible title. */
function frame(svg: SVGSVGElement, yMax: number, title: string): Frame {
  const width = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 600);
  svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute('role', 'img');
  fill(svg, s('title', {}, title));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  for (const f of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - f);
    svg.append(s('line', { class: 'grid', x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }));
    // No label where the value is not a whole number (the middle line of a scale of 1).
    if (Number.isInteger(yMax * f)) {
      svg.append(s('text', { class: 'axis-label', x: PAD.left - 6, y: y + 4, 'text-anchor': 'end' }, count(yMax * f)));
    }
  }
  return { width, plotW, plotH, yMax };
}

/** Labels under the plot: minutes before now, at each fifth of the window. */
function timeAxis(svg: SVGSVGElement, f: Frame, windowMs: number): void {
  const y = HEIGHT - 6;
  const ticks = f.width < 420 ? [0, 0.5, 1] : [0, 0.2, 0.4, 0.6, 0.8, 1];
  for (const t of ticks) {
    const x = PAD.left + f.plotW * t;
    const mins = Math.round(((1 - t) * windowMs) / 60000);
    const anchor = t === 0 ? 'start' : t === 1 ? 'end' : 'middle';
    svg.append(s('text', { class: 'axis-label', x, y, 'text-anchor': anchor }, mins === 0 ? 'now' : `−${mins} min`));
  }
}

export interface Throughput {
  bucket_secs: number;
  finished: number[];
  failed: number[];
}

/**
 * Stacked bars: jobs that succeeded (finished − failed) and, above, those that failed. Returns
 * the chart's summary in words.
 */
export function drawThroughput(svg: SVGSVGElement, data: Throughput): string {
  const n = data.finished.length;
  const total = data.finished.reduce((a, b) => a + b, 0);
  const failedTotal = data.failed.reduce((a, b) => a + b, 0);
  const windowMs = n * data.bucket_secs * 1000;
  const mins = Math.round(windowMs / 60000);
  const title = `Jobs finished per ${data.bucket_secs} s over the last ${mins} min: ${count(total)} in all, ${count(failedTotal)} failed or timed out`;
  const f = frame(svg, niceMax(Math.max(0, ...data.finished)), title);
  if (n === 0) return title;
  const slot = f.plotW / n;
  const barW = Math.max(1, slot * 0.75);
  const scale = (v: number): number => (v / f.yMax) * f.plotH;
  const base = PAD.top + f.plotH;
  data.finished.forEach((finished, i) => {
    const failed = Math.min(data.failed[i] ?? 0, finished);
    if (finished === 0) return;
    const x = PAD.left + i * slot + (slot - barW) / 2;
    const okH = scale(finished - failed);
    const failH = scale(failed);
    const ago = Math.round(((n - i) * data.bucket_secs) / 60);
    const tip = `${count(finished)} finished, ${count(failed)} failed (${ago} min ago)`;
    const g = s('g', {}, s('title', {}, tip));
    if (okH > 0) g.append(s('rect', { class: 'bar-ok', x, y: base - okH, width: barW, height: okH }));
    if (failH > 0) {
      g.append(s('rect', { class: 'bar-failed', x, y: base - okH - failH, width: barW, height: failH }));
    }
    svg.append(g);
  });
  timeAxis(svg, f, windowMs);
  return title;
}

export interface Sample {
  /** Milliseconds since the epoch. */
  t: number;
  v: number;
}

/** A line of samples over the last `windowMs`, with the area under it shaded; its summary. */
export function drawLine(svg: SVGSVGElement, samples: Sample[], windowMs: number, what: string): string {
  const now = Date.now();
  const shown = samples.filter((p) => p.t >= now - windowMs);
  const last = shown[shown.length - 1];
  const peak = Math.max(0, ...shown.map((p) => p.v));
  const title = last
    ? `${what} over the last ${Math.round(windowMs / 60000)} min: now ${count(last.v)}, peak ${count(peak)}`
    : `${what}: no samples yet`;
  const f = frame(svg, niceMax(peak), title);
  timeAxis(svg, f, windowMs);
  if (shown.length === 0) return title;
  const x = (t: number): number => PAD.left + f.plotW * (1 - (now - t) / windowMs);
  const y = (v: number): number => PAD.top + f.plotH * (1 - v / f.yMax);
  const points = shown.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  const first = shown[0];
  if (first && last) {
    const base = PAD.top + f.plotH;
    const area = `${x(first.t).toFixed(1)},${base} ${points.join(' ')} ${x(last.t).toFixed(1)},${base}`;
    svg.append(s('polygon', { class: 'area', points: area }));
    svg.append(s('polyline', { class: 'line', points: points.join(' ') }));
    svg.append(s('circle', { class: 'dot', cx: x(last.t), cy: y(last.v), r: 3 }));
  }
  return title;
}

/** Calls `draw` whenever the SVG's width changes; returns the function that stops it. */
export function redrawOnResize(svg: SVGSVGElement, draw: () => void): () => void {
  let width = 0;
  const observer = new ResizeObserver((entries) => {
    const w = Math.round(entries[0]?.contentRect.width ?? 0);
    if (w > 0 && w !== width) {
      width = w;
      draw();
    }
  });
  observer.observe(svg);
  return () => observer.disconnect();
}
