// Your own breathing pace: the guided resonance assessment (#/resonance) and its result page.
//
// The server plans the blocks and records their markers (afterbeat.server.resonance); every
// block comes with a pacing timeline on Unix time, and the pacer here computes its phase from
// the clock with pacer.js's phaseAt (the same arithmetic as afterbeat.resets.pacing.phase_at).
//
// For tests and tools (read-only data attributes):
//   #resonance-run     data-stage (settle|block|break|done), data-block-index, data-rate
//   #resonance-pacer   data-phase (inhale|exhale), data-progress (0-1), data-cycle
//   #resonance-result  data-verdict, data-rate (chosen breaths/min or ''), data-blocks
//   #resonance-chart   data-bars (rates drawn)

import { api } from './api.js';
import { byId, clear, clockText, dateText, fmt, h, setText } from './dom.js';
import { phaseAt, shapeScale } from './pacer.js';
import { settings } from './settings.js';

const PACES = [4.5, 5, 5.5, 6, 6.5, 7];
const VERDICT_WORDS = {
  clear: 'Fairly clear',
  likely: 'Likely (a repeat would help)',
  cannot_tell: 'Cannot tell yet',
};

/** A pace as people write it: 6, 5.5. */
function rate(value) {
  return typeof value === 'number' && Number.isFinite(value) ? String(Math.round(value * 100) / 100) : '—';
}

/** A breath phase's length (s) as a tired reader can follow it: whole seconds, or halves when
 *  the pace needs them, with "about" when rounded ("about 3.5 s"; never off by more than
 *  0.25 s). The pacer itself keeps the exact timing. */
export function breathSeconds(valueS) {
  if (typeof valueS !== 'number' || !Number.isFinite(valueS)) return '—';
  const shown = Math.round(valueS * 2) / 2;
  return `${Math.abs(shown - valueS) < 0.05 ? '' : 'about '}${shown} s`;
}

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

// SVG elements take the namespace of the page's own <svg id="resonance-chart"> element.
function svg(tag, attrs = {}) {
  const el = document.createElementNS(byId('resonance-chart').namespaceURI, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/** The stage at Unix time nowS from the run's blocks (settle, block, break, done). */
export function stageAt(run, nowS) {
  const blocks = Array.isArray(run?.blocks) ? run.blocks : [];
  let previousEnd = run?.started_unix_s ?? nowS;
  for (let i = 0; i < blocks.length; i += 1) {
    const b = blocks[i];
    if (nowS < b.start_unix_s) return { kind: i === 0 ? 'settle' : 'break', block: b, startS: previousEnd, endS: b.start_unix_s };
    if (nowS < b.end_unix_s) return { kind: 'block', block: b, startS: b.start_unix_s, endS: b.end_unix_s };
    previousEnd = b.end_unix_s;
  }
  return { kind: 'done', block: null, startS: previousEnd, endS: null };
}

export class ResonanceView {
  constructor() {
    this.el = {
      intro: byId('resonance-intro'),
      run: byId('resonance-run'),
      stage: byId('resonance-stage'),
      detail: byId('resonance-detail'),
      pacer: byId('resonance-pacer'),
      shape: byId('resonance-shape'),
      phase: byId('resonance-phase'),
      count: byId('resonance-count'),
      remaining: byId('resonance-remaining'),
      steps: byId('resonance-steps'),
      result: byId('resonance-result'),
      words: byId('resonance-words'),
      verdict: byId('resonance-verdict'),
      chart: byId('resonance-chart'),
      table: byId('resonance-table-body'),
      reasons: byId('resonance-reasons'),
      paceLine: byId('resonance-pace-line'),
      pace: byId('resonance-pace'),
      error: byId('resonance-error'),
    };
    this.run = null;
    this.frame = null;
    this.poll = null;
    for (const value of PACES) this.el.pace.append(h('option', { value: String(value) }, `${value} a minute`));
    byId('btn-resonance-start').addEventListener('click', () => this.start());
    byId('btn-resonance-stop').addEventListener('click', () => this.stop());
    byId('btn-resonance-pace').addEventListener('click', () => this.setPace());
    byId('btn-resonance-again').addEventListener('click', () => this.showIntro());
  }

  /** Load the stored result and any running assessment (called when the view opens). */
  async show() {
    let data;
    try {
      data = (await api.get('/api/resonance')) ?? {};
    } catch (error) {
      this.fail(`Could not load your pace: ${error.message}`);
      return;
    }
    this.pacePreference = num(data.pace_bpm);
    if (data.run) this.follow(data.run);
    else if (data.last || data.result) this.showResult(data.last ?? data.result, data.result, data.pace_bpm);
    else this.showIntro();
  }

  showIntro() {
    this.stopDrawing();
    this.el.intro.hidden = false;
    this.el.run.hidden = true;
    this.el.result.hidden = true;
  }

  fail(message) {
    this.el.error.hidden = !message;
    setText(this.el.error, message ?? '');
  }

  protocolFromForm() {
    const body = {};
    const blockMin = Number(byId('resonance-block-min').value);
    if (Number.isFinite(blockMin) && blockMin > 0) body.block_s = Math.round(blockMin * 60);
    const settle = byId('resonance-settle-s').value;
    if (settle !== '') body.settle_s = Number(settle);
    const pause = byId('resonance-break-s').value;
    if (pause !== '') body.break_s = Number(pause);
    body.second_pass = byId('resonance-second-pass').checked;
    return body;
  }

  async start() {
    this.fail(null);
    try {
      const run = await api.post('/api/resonance/start', this.protocolFromForm());
      this.follow(run);
    } catch (error) {
      this.fail(`Could not start: ${error.message}`);
    }
  }

  async stop() {
    this.stopDrawing();
    try {
      const out = await api.post('/api/resonance/stop', {});
      const stored = (await api.get('/api/resonance')) ?? {};
      this.showResult(out?.result ?? null, stored.result ?? null, stored.pace_bpm, true);
    } catch (error) {
      this.fail(`Could not stop: ${error.message}`);
      this.show();
    }
  }

  follow(run) {
    this.run = run;
    this.el.intro.hidden = true;
    this.el.result.hidden = true;
    this.el.run.hidden = false;
    clear(this.el.steps);
    for (const b of run.blocks ?? []) {
      this.el.steps.append(h('li', { dataset: { index: String(b.index) } }, `${rate(b.rate_bpm)} a minute`));
    }
    this.stopDrawing();
    const draw = () => {
      this.draw(Date.now() / 1000);
      this.frame = requestAnimationFrame(draw);
    };
    this.frame = requestAnimationFrame(draw);
    // the server may add a second pass or finish: look again every 2 s
    this.poll = setInterval(() => this.refresh(), 2000);
  }

  stopDrawing() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    if (this.poll !== null) clearInterval(this.poll);
    this.frame = null;
    this.poll = null;
  }

  async refresh() {
    let data;
    try {
      data = (await api.get('/api/resonance')) ?? {};
    } catch {
      return;
    }
    if (data.run) {
      if ((data.run.blocks ?? []).length !== (this.run?.blocks ?? []).length) this.follow(data.run);
      return;
    }
    this.stopDrawing();
    this.showResult(data.last ?? data.result, data.result, data.pace_bpm);
  }

  draw(nowS) {
    const run = this.run;
    if (!run) return;
    const stage = stageAt(run, nowS);
    const root = this.el.run;
    root.dataset.stage = stage.kind;
    root.dataset.blockIndex = stage.block ? String(stage.block.index) : '';
    root.dataset.rate = stage.block ? String(stage.block.rate_bpm) : '';
    for (const li of this.el.steps.children) {
      const index = Number(li.dataset.index);
      const block = (run.blocks ?? []).find((b) => b.index === index);
      li.dataset.state = !block ? '' : nowS >= block.end_unix_s ? 'done' : (stage.kind === 'block' && stage.block.index === index ? 'now' : 'later');
    }
    const left = stage.endS === null ? 0 : stage.endS - nowS;
    setText(this.el.remaining, stage.endS === null ? '' : `${clockText(left)} left`);
    const pacer = this.el.pacer;
    if (stage.kind === 'block') {
      const b = stage.block;
      const inhale = b.timeline.pattern.phases[0].duration_s;
      const exhale = b.timeline.pattern.phases[1].duration_s;
      setText(this.el.stage, `${rate(b.rate_bpm)} breaths a minute`);
      setText(this.el.detail, `Block ${b.index + 1} of ${run.blocks.length}: in for ${breathSeconds(inhale)}, out for ${breathSeconds(exhale)}. Breathe gently, not deeply.`);
      pacer.hidden = false;
      const state = phaseAt(b.timeline, nowS);
      pacer.dataset.phase = state.phase.direction;
      pacer.dataset.progress = state.progress.toFixed(3);
      pacer.dataset.cycle = String(state.cycle);
      pacer.dataset.remainingS = state.remainingS.toFixed(2);
      setText(this.el.phase, state.phase.name);
      setText(this.el.count, String(Math.max(1, Math.ceil(state.remainingS))));
      const reduced = matchMedia('(prefers-reduced-motion: reduce)').matches;
      pacer.dataset.motion = reduced ? 'reduced' : 'full';
      this.el.shape.style.transform = reduced ? 'none' : `scale(${shapeScale(b.timeline, state).toFixed(4)})`;
    } else {
      pacer.hidden = true;
      pacer.dataset.phase = '';
      if (stage.kind === 'settle') {
        setText(this.el.stage, 'Resting first');
        setText(this.el.detail, 'Sit comfortably, feet on the floor, and breathe as you normally do for a minute before the first pace.');
      } else if (stage.kind === 'break') {
        setText(this.el.stage, 'A short break');
        setText(this.el.detail, `Breathe freely. Next: ${rate(stage.block.rate_bpm)} breaths a minute.`);
      } else {
        setText(this.el.stage, 'Working out your pace…');
        setText(this.el.detail, '');
      }
    }
  }

  showResult(doc, stored, paceBpm, justStopped = false) {
    this.stopDrawing();
    this.run = null;
    this.el.intro.hidden = true;
    this.el.run.hidden = true;
    const box = this.el.result;
    box.hidden = false;
    const assessment = doc?.assessment ?? null;
    const decision = assessment?.decision ?? {};
    const blocks = Array.isArray(assessment?.blocks) ? assessment.blocks : [];
    box.dataset.verdict = String(decision.verdict ?? '');
    box.dataset.rate = num(decision.rate_bpm) === null ? '' : String(decision.rate_bpm);
    box.dataset.blocks = String(blocks.length);
    const when = doc?.assessed_at ? dateText(doc.assessed_at) : '';
    const stoppedNote = doc?.stopped || justStopped ? ' Stopped early: this uses what was measured until then.' : '';
    setText(this.el.words, doc ? String(doc.words ?? decision.words ?? '') : 'No assessment yet.');
    setText(this.el.verdict, doc ? `${VERDICT_WORDS[decision.verdict] ?? ''}${when ? ` · ${when}` : ''}.${stoppedNote}` : '');
    this.drawChart(blocks, num(decision.rate_bpm));
    this.fillTable(blocks);
    clear(this.el.reasons);
    for (const reason of decision.reasons ?? []) this.el.reasons.append(h('li', {}, String(reason)));
    const pace = num(paceBpm);
    const storedRate = num(stored?.rate_bpm);
    const sameAsStored = Boolean(doc && stored && doc.assessed_at === stored.assessed_at);
    let line;
    if (storedRate !== null && !sameAsStored && num(decision.rate_bpm) === null) {
      line = `This assessment could not tell, so your earlier pace of ${rate(storedRate)} a minute stays${pace !== null && pace !== storedRate ? ` (your reset pace is set to ${rate(pace)} a minute)` : ''}.`;
    } else if (storedRate !== null && sameAsStored && pace === storedRate) {
      line = `Your breathing reset now paces you at ${rate(pace)} breaths a minute, from this assessment. You can change it any time.`;
    } else if (pace !== null) {
      line = `Your breathing reset paces you at ${rate(pace)} breaths a minute.`;
    } else {
      line = 'Your breathing reset keeps its usual pace of 6 breaths a minute.';
    }
    setText(this.el.paceLine, line);
    const select = num(decision.rate_bpm) ?? pace ?? 6;
    if (PACES.includes(select)) this.el.pace.value = String(select);
  }

  drawChart(blocks, chosen) {
    setText(byId('resonance-chart-key'), chosen === null
      ? 'bpm, peak to trough; faded bars were left out'
      : 'bpm, peak to trough; the highlighted bar is your pace, faded bars were left out');
    if (!this.redrawOnResize) {
      // Redrawn at its new width when the window changes (a phone turned, a window resized).
      this.redrawOnResize = true;
      let timer = 0;
      window.addEventListener('resize', () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (this.drawn && !this.el.result.hidden) this.drawChart(...this.drawn);
        }, 150);
      });
    }
    this.drawn = [blocks, chosen];
    const chart = this.el.chart;
    clear(chart);
    // Drawn at the width it is shown at, so its labels keep their size on a phone.
    const width = Math.max(280, Math.min(560, Math.round(chart.getBoundingClientRect().width) || 560));
    const height = 220;
    const pad = { l: 44, r: 12, t: 14, b: 40 };
    chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const rows = blocks.filter((b) => num(b.swing_bpm) !== null && b.n_breaths > 0);
    chart.dataset.bars = String(rows.length);
    if (!rows.length) {
      const t = svg('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' });
      t.textContent = 'No block was measured.';
      chart.append(t);
      return;
    }
    const top = Math.max(...rows.map((b) => b.swing_bpm), 1) * 1.15;
    const plotW = width - pad.l - pad.r;
    const plotH = height - pad.t - pad.b;
    const step = plotW / rows.length;
    for (const tick of [0, 0.5, 1]) {
      const y = pad.t + plotH * (1 - tick);
      chart.append(svg('line', { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: 'grid' }));
      const label = svg('text', { x: pad.l - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' });
      label.textContent = fmt(top * tick, 0);
      chart.append(label);
    }
    rows.forEach((b, i) => {
      const barH = plotH * (b.swing_bpm / top);
      const x = pad.l + i * step + step * 0.2;
      const cls = ['bar', b.counts ? 'counted' : 'left-out', chosen !== null && b.rate_bpm === chosen ? 'chosen' : ''].join(' ').trim();
      const rect = svg('rect', { x, y: pad.t + plotH - barH, width: step * 0.6, height: Math.max(barH, 1), rx: 4, class: cls });
      const title = svg('title');
      title.textContent = `${b.rate_bpm} a minute: swing ${fmt(b.swing_bpm, 1)} bpm${b.counts ? '' : ' (left out)'}`;
      rect.append(title);
      chart.append(rect);
      const value = svg('text', { x: x + step * 0.3, y: pad.t + plotH - barH - 4, 'text-anchor': 'middle', class: 'value' });
      value.textContent = fmt(b.swing_bpm, 1);
      chart.append(value);
      const label = svg('text', { x: x + step * 0.3, y: height - pad.b + 18, 'text-anchor': 'middle', class: 'tick' });
      label.textContent = `${b.rate_bpm}${b.pass === 2 ? ' (again)' : ''}`;
      chart.append(label);
    });
    const axis = svg('text', { x: pad.l + plotW / 2, y: height - 4, 'text-anchor': 'middle', class: 'tick' });
    axis.textContent = 'breaths a minute';
    chart.append(axis);
  }

  fillTable(blocks) {
    const body = this.el.table;
    clear(body);
    for (const b of blocks) {
      // One breath is always "in step": without enough breaths the server sends no steadiness.
      const follow = num(b.phase_locking) === null ? 'too few breaths'
        : `${b.followed ? 'yes' : 'no'} (${fmt(b.phase_locking, 2)})`;
      body.append(h('tr', { dataset: { rate: String(b.rate_bpm), counts: String(Boolean(b.counts)) } },
        h('th', { scope: 'row' }, `${b.rate_bpm}${b.pass === 2 ? ' (again)' : ''}`),
        h('td', {}, b.n_breaths > 0 ? fmt(b.swing_bpm, 1) : '—'),
        h('td', {}, b.n_breaths > 0 ? fmt(b.peak_trough_bpm, 1) : '—'),
        h('td', {}, fmt(b.lf_ms2, 0)),
        h('td', {}, num(b.lf_peak_bpm) === null ? '—' : fmt(b.lf_peak_bpm, 1)),
        h('td', {}, fmt(b.coherence, 1)),
        h('td', {}, num(b.phase_deg) === null ? '—' : `${fmt(b.phase_deg, 0)}°`),
        h('td', {}, follow),
        h('td', {}, `${fmt(b.corrected_pct, 1)} %`),
        h('td', {}, b.counts ? 'yes' : 'no')));
    }
  }

  async setPace() {
    const pace = Number(this.el.pace.value);
    try {
      await api.put('/api/resonance/pace', { breaths_per_min: pace });
      await settings.load();
      setText(this.el.paceLine, `Your breathing reset now paces you at ${rate(pace)} breaths a minute. You can change it any time.`);
    } catch (error) {
      this.fail(`Could not save the pace: ${error.message}`);
    }
  }
}
