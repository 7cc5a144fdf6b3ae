// Canvas time-series chart: one line, an optional baseline band and vertical marks.
// No third-party code: a few hundred points per chart, redrawn on the next animation frame.

// Colours come from CSS custom properties (style.css), so light and dark themes both apply;
// these are the fallbacks.
const FALLBACK = {
  '--chart-grid': 'rgba(60, 72, 80, 0.10)',
  '--chart-text': '#5f676c',
  '--chart-band': 'rgba(111, 168, 160, 0.18)',
  '--chart-band-edge': 'rgba(111, 168, 160, 0.45)',
  '--chart-mark': 'rgba(92, 99, 140, 0.55)',
  '--chart-span-text': '#5c6190',
};
const SPAN = 'rgba(106, 111, 168, 0.07)';

/** A colour: a CSS custom property name (read from the canvas' style) or a plain colour. */
function resolve(style, value) {
  if (typeof value !== 'string' || !value.startsWith('--')) return value;
  return style.getPropertyValue(value).trim() || FALLBACK[value] || '#888';
}

/** A line chart over time (seconds on the session clock). */
export class TimeChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{color: string, windowS?: number, minSpan?: number, decimals?: number,
   *          maxGapS?: number, xLabels?: 'relative' | 'session' | 'index', dots?: boolean}} options
   */
  constructor(canvas, options) {
    this.canvas = canvas;
    this.options = { windowS: null, minSpan: 10, decimals: 0, maxGapS: 30, xLabels: 'relative', dots: false, ...options };
    this.points = []; // [t, value | null]
    this.band = null; // {lo, hi}
    this.marks = []; // {t, label}
    this.spans = []; // {t0, t1, label}: shaded periods (baseline, session, resets)
    this.extra = null; // {points, color}: a second, dashed line (e.g. ratings after resets)
    this.dirty = true;
    this.frame = 0;
    this.fallback = 0;
    this.observer = new ResizeObserver(() => this.requestDraw());
    this.observer.observe(canvas);
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.requestDraw());
    this.requestDraw();
  }

  /** Change the span of a live chart (s). */
  setWindow(windowS) {
    if (this.options.windowS === windowS) return;
    this.options.windowS = windowS;
    this.requestDraw();
  }

  /** Add one value at session time tS (null breaks the line). */
  push(tS, value) {
    if (typeof tS !== 'number' || !Number.isFinite(tS)) return;
    const v = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const last = this.points[this.points.length - 1];
    if (last && tS < last[0]) {
      // The session clock went back: a new recording. Start afresh.
      this.points = [];
      this.marks = [];
    }
    this.points.push([tS, v]);
    if (this.options.windowS) {
      const cutoff = tS - this.options.windowS * 1.2;
      let drop = 0;
      while (drop < this.points.length && this.points[drop][0] < cutoff) drop += 1;
      if (drop) this.points.splice(0, drop);
      this.marks = this.marks.filter((m) => m.t >= cutoff);
    }
    this.requestDraw();
  }

  /** Replace all values at once (report and trend charts). */
  setPoints(points) {
    this.points = points.filter((p) => typeof p[0] === 'number' && Number.isFinite(p[0]))
      .map(([t, v]) => [t, typeof v === 'number' && Number.isFinite(v) ? v : null]);
    this.requestDraw();
  }

  /** Set the baseline band (lo..hi) or null to hide it. */
  setBand(lo, hi) {
    const ok = typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo;
    const next = ok ? { lo, hi } : null;
    if (JSON.stringify(next) !== JSON.stringify(this.band)) {
      this.band = next;
      this.requestDraw();
    }
  }

  /** Add a vertical mark at session time tS. */
  addMark(tS, label) {
    if (typeof tS !== 'number' || !Number.isFinite(tS)) return;
    this.marks.push({ t: tS, label: String(label ?? '') });
    this.requestDraw();
  }

  /** A second, dashed line drawn on the same axes (null removes it). */
  setExtra(points, color) {
    this.extra = points ? { points: points.map(([t, v]) => [t, typeof v === 'number' && Number.isFinite(v) ? v : null]), color } : null;
    this.requestDraw();
  }

  /** Shaded periods {t0, t1, label} on the session clock (report charts). */
  setSpans(spans) {
    this.spans = spans.filter((p) => Number.isFinite(p.t0) && Number.isFinite(p.t1) && p.t1 > p.t0);
    this.requestDraw();
  }

  setMarks(marks) {
    this.marks = marks.filter((m) => typeof m.t === 'number' && Number.isFinite(m.t));
    this.requestDraw();
  }

  /** Draw on the next frame; many changes before it make one drawing. */
  requestDraw() {
    this.dirty = true;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
    // rAF pauses in background tabs; a timer keeps the drawing and data attributes fresh there.
    if (!this.fallback) this.fallback = setTimeout(() => this.draw(), 250);
  }

  draw() {
    if (this.frame) cancelAnimationFrame(this.frame);
    clearTimeout(this.fallback);
    this.frame = 0;
    this.fallback = 0;
    if (!this.dirty) return;
    this.dirty = false;
    const { canvas } = this;
    const rect = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width));
    const h = Math.max(1, Math.round(rect.height));
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    const style = getComputedStyle(canvas);
    const COLORS = {
      grid: resolve(style, '--chart-grid'),
      text: resolve(style, '--chart-text'),
      band: resolve(style, '--chart-band'),
      bandEdge: resolve(style, '--chart-band-edge'),
      mark: resolve(style, '--chart-mark'),
      span: SPAN,
      spanText: resolve(style, '--chart-span-text'),
    };
    const lineColor = resolve(style, this.options.color);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const values = this.points.filter((p) => p[1] !== null);
    canvas.dataset.points = String(values.length);
    const lastPoint = this.points[this.points.length - 1];
    canvas.dataset.lastT = lastPoint ? lastPoint[0].toFixed(1) : '';
    if (rect.width === 0) return;

    const pad = { l: 38, r: 12, t: 10, b: 20 };
    const plotW = Math.max(1, w - pad.l - pad.r);
    const plotH = Math.max(1, h - pad.t - pad.b);

    // x range
    let x0;
    let x1;
    if (this.options.windowS) {
      x1 = lastPoint ? lastPoint[0] : this.options.windowS;
      x0 = x1 - this.options.windowS;
    } else if (this.options.xLabels === 'index') {
      // one slot per session: 1..n with half a slot of room either side
      x0 = 0.5;
      x1 = Math.max(1, this.points.length) + 0.5;
    } else if (this.points.length) {
      x0 = this.points[0][0];
      x1 = lastPoint[0];
      if (x1 - x0 < 1) { x0 -= 0.5; x1 += 0.5; }
    } else {
      x0 = 0;
      x1 = 1;
    }
    const inView = values.filter((p) => p[0] >= x0 && p[0] <= x1);

    // y range: data and band, at least minSpan wide, with a little room
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of inView) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
    for (const p of this.extra?.points ?? []) {
      if (p[1] !== null && p[0] >= x0 && p[0] <= x1) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); }
    }
    if (this.band) { lo = Math.min(lo, this.band.lo); hi = Math.max(hi, this.band.hi); }
    if (!Number.isFinite(lo)) { lo = 0; hi = this.options.minSpan; }
    const span = Math.max(hi - lo, this.options.minSpan);
    const mid = (hi + lo) / 2;
    lo = mid - span * 0.6;
    hi = mid + span * 0.6;
    if (this.options.floorZero && lo < 0) { hi -= lo; lo = 0; }
    if (typeof this.options.yMin === 'number') lo = this.options.yMin;
    // A chart of whole recordings (not the live window): the top gridline is labelled with a
    // value at or above every value drawn, so no dot sits above the axis' highest label.
    if (!this.options.windowS && inView.length) {
      const top = Math.max(...inView.map((p) => p[1]), ...(this.extra?.points ?? [])
        .filter((p) => p[1] !== null && p[0] >= x0 && p[0] <= x1).map((p) => p[1]));
      for (let k = 0; k < 4; k += 1) {
        const ticks = niceTicks(lo, hi, 4);
        const last = ticks[ticks.length - 1];
        if (ticks.length < 2 || last >= top - 1e-9) break;
        hi = last + (ticks[1] - ticks[0]);
      }
    }

    const X = (t) => pad.l + ((t - x0) / (x1 - x0)) * plotW;
    const Y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * plotH;

    // Every label drawn inside the canvas is placed through `place`, which keeps it whole inside
    // the canvas and clear of the labels before it (else it is left out; its line still shows).
    // The boxes are published as data-labels for the browser tests.
    const placed = [];
    const LABEL_H = 12;
    const place = (text, xs, rows, align = 'left', bounds = [0, w]) => {
      if (!text) return false;
      const width = ctx.measureText(text).width;
      for (const y of rows) {
        for (const x of xs) {
          let left = x;
          if (align === 'center') left = x - width / 2;
          else if (align === 'right') left = x - width;
          const box = { text, x0: left, x1: left + width, y0: y, y1: y + LABEL_H };
          if (box.x0 < bounds[0] || box.x1 > bounds[1] || box.y0 < 0 || box.y1 > h) continue;
          if (placed.some((b) => box.x0 < b.x1 + 2 && b.x0 < box.x1 + 2 && box.y0 < b.y1 && b.y0 < box.y1)) continue;
          placed.push(box);
          const saved = [ctx.textAlign, ctx.textBaseline];
          ctx.textAlign = 'left';
          ctx.textBaseline = 'top';
          ctx.fillText(text, box.x0, box.y0);
          [ctx.textAlign, ctx.textBaseline] = saved;
          return true;
        }
      }
      return false;
    };

    // grid and y labels
    ctx.font = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
    ctx.fillStyle = COLORS.text;
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const v of niceTicks(lo, hi, 4)) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(pad.l + plotW, y);
      ctx.stroke();
      place(String(Math.round(v * 10) / 10), [pad.l - 6], [y - LABEL_H / 2], 'right');
    }

    // x labels
    ctx.textBaseline = 'alphabetic';
    const xl = this.options.xLabels;
    if (xl === 'relative' && this.options.windowS) {
      const minutes = this.options.windowS / 60;
      for (let m = 0; m <= minutes; m += minutes / 2) {
        const x = X(x0 + m * 60);
        place(m === minutes ? 'now' : `−${minutes - m} min`, [x], [h - LABEL_H - 2],
          m === 0 ? 'left' : m === minutes ? 'right' : 'center');
      }
    } else if (xl === 'index' && this.points.length) {
      const n = this.points.length;
      const every = Math.max(1, Math.ceil(n / 10));
      ctx.textAlign = 'center';
      for (let i = 1; i <= n; i += 1) {
        if ((i - 1) % every !== 0 && i !== n) continue;
        const label = i === 1 && this.options.indexLabel ? this.options.indexLabel(i) : String(i);
        place(label, [X(i) - ctx.measureText(label).width / 2, X(i) - 4], [h - LABEL_H - 2]);
      }
    }
    if (xl === 'session' && this.points.length) {
      for (const [i, t] of [x0, x1, (x0 + x1) / 2].entries()) {
        place(minutesLabel(t), [X(t)], [h - LABEL_H - 2], i === 0 ? 'left' : i === 1 ? 'right' : 'center');
      }
    }

    // baseline band
    if (this.band) {
      const yHi = Y(this.band.hi);
      const yLo = Y(this.band.lo);
      ctx.fillStyle = COLORS.band;
      ctx.fillRect(pad.l, yHi, plotW, yLo - yHi);
      ctx.strokeStyle = COLORS.bandEdge;
      ctx.setLineDash([3, 4]);
      for (const y of [yHi, yLo]) {
        ctx.beginPath();
        ctx.moveTo(pad.l, Math.round(y) + 0.5);
        ctx.lineTo(pad.l + plotW, Math.round(y) + 0.5);
        ctx.stroke();
      }
      ctx.setLineDash([]);
    }

    // shaded periods and marks
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.l, 0, plotW, h);
    ctx.clip();
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (const span of this.spans) {
      const a = X(Math.max(span.t0, x0));
      const b = X(Math.min(span.t1, x1));
      if (b <= a) continue;
      ctx.fillStyle = span.color ?? COLORS.span;
      ctx.fillRect(a, pad.t, b - a, plotH);
      if (span.label) {
        ctx.fillStyle = COLORS.spanText;
        place(span.label, [a + 4, b - 4 - ctx.measureText(span.label).width], [pad.t + 2, pad.t + 2 + LABEL_H], 'left', [pad.l, pad.l + plotW]);
      }
    }
    ctx.strokeStyle = COLORS.mark;
    ctx.fillStyle = COLORS.mark;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.setLineDash([2, 3]);
    for (const m of this.marks) {
      if (m.t < x0 || m.t > x1) continue;
      const x = Math.round(X(m.t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, pad.t);
      ctx.lineTo(x, pad.t + plotH);
      ctx.stroke();
      // Right of the line, else left of it (near the right edge), on one of three rows.
      if (m.label) {
        const width = ctx.measureText(m.label).width;
        place(m.label, [x + 3, x - 3 - width], [pad.t + 1, pad.t + 1 + LABEL_H, pad.t + 1 + 2 * LABEL_H], 'left', [pad.l, pad.l + plotW]);
      }
    }
    ctx.setLineDash([]);

    // the line, broken at missing values and long gaps
    ctx.strokeStyle = lineColor;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    ctx.beginPath();
    let open = false;
    let prevT = null;
    for (const [t, v] of this.points) {
      if (t < x0 - 60) continue;
      if (v === null || (prevT !== null && this.options.maxGapS && t - prevT > this.options.maxGapS)) {
        open = false;
      }
      if (v !== null) {
        if (open) ctx.lineTo(X(t), Y(v));
        else ctx.moveTo(X(t), Y(v));
        open = true;
      }
      prevT = t;
    }
    ctx.stroke();
    if (this.extra) {
      ctx.strokeStyle = resolve(style, this.extra.color);
      ctx.fillStyle = resolve(style, this.extra.color);
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      let on = false;
      for (const [t, v] of this.extra.points) {
        if (v === null) { on = false; continue; }
        if (on) ctx.lineTo(X(t), Y(v)); else ctx.moveTo(X(t), Y(v));
        on = true;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (this.options.dots) {
        for (const [t, v] of this.extra.points) {
          if (v === null) continue;
          ctx.beginPath();
          ctx.arc(X(t), Y(v), 3, 0, Math.PI * 2);
          ctx.fill();
        }
      }
    }
    if (this.options.dots) {
      ctx.fillStyle = lineColor;
      for (const [t, v] of inView) {
        ctx.beginPath();
        ctx.arc(X(t), Y(v), 3, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    const lastValue = [...this.points].reverse().find((p) => p[1] !== null);
    if (lastValue && this.options.windowS) {
      ctx.fillStyle = lineColor;
      ctx.beginPath();
      ctx.arc(X(lastValue[0]), Y(lastValue[1]), 3.5, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.restore();
    canvas.dataset.labels = JSON.stringify(placed.map((b) => ({ text: b.text, x0: +b.x0.toFixed(1), x1: +b.x1.toFixed(1), y0: b.y0, y1: b.y1 })));
    canvas.dataset.size = `${w}x${h}`;
    canvas.dataset.lastValue = lastValue ? lastValue[1].toFixed(this.options.decimals) : '';
  }
}

function minutesLabel(tS) {
  const minutes = Math.round(tS / 60);
  if (Math.abs(minutes) < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')}`;
}

/** About `count` round tick values between lo and hi. */
export function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(v);
  return ticks;
}
