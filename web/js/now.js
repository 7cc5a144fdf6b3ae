// The "Now" view: calm line, activation score, live charts, status chips, marks and resets.

import { api } from './api.js';
import { TimeChart } from './chart.js';
import { byId, clear, fmt, h, MARK_WORDS, markerItem, setText } from './dom.js';
import { PacerView } from './pacer.js';
import { settings } from './settings.js';

const WINDOW_S = 600;
const PACES = [4.5, 5, 5.5, 6, 6.5, 7];

const STATE_WORDS = {
  calibrating: 'Getting to know your rhythm. Readings settle in over the first minutes.',
  settled: 'Your body looks settled, close to your own baseline.',
  activated: 'A little more activated than your own baseline.',
  elevated: 'Still activated compared with your own baseline.',
  unknown: 'The signal is unclear right now, so afterbeat is holding off on reading it.',
};

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The pacing timeline in a reset start answer, `reset` event or status `reset` (or null). */
export function findTimeline(data) {
  const timeline = data && typeof data === 'object' ? data.timeline : null;
  return timeline && typeof timeline === 'object' && 'start_s' in timeline ? timeline : null;
}

export class NowView {
  constructor() {
    this.el = {
      calm: byId('calm-line'),
      score: byId('score'),
      scoreValue: byId('score-value'),
      scoreFill: byId('score-fill'),
      scoreMeter: byId('score-meter'),
      hr: byId('num-hr'),
      rmssd: byId('num-rmssd'),
      resp: byId('num-resp'),
      quality: byId('num-quality'),
      marks: byId('marks-list'),
      suggestion: byId('suggestion'),
      suggestionEyebrow: byId('suggestion-eyebrow'),
      suggestionTitle: byId('suggestion-title'),
      suggestionReason: byId('suggestion-reason'),
      suggestionInstructions: byId('suggestion-instructions'),
      suggestionCautions: byId('suggestion-cautions'),
      pacerCard: byId('pacer-card'),
      pacerTitle: byId('pacer-title'),
      afterCard: byId('after-card'),
      effectTable: byId('effect-table'),
      effectBody: byId('effect-body'),
      noteForm: byId('note-form'),
      noteText: byId('note-text'),
    };
    this.charts = {
      hr: new TimeChart(byId('chart-hr'), { color: '--chart-hr', windowS: WINDOW_S, minSpan: 12 }),
      rmssd: new TimeChart(byId('chart-rmssd'), { color: '--chart-rmssd', windowS: WINDOW_S, minSpan: 15, floorZero: true }),
    };
    this.library = new Map();
    this.suggested = null; // reset JSON on offer
    this.activeReset = null; // reset JSON being paced
    this.ratingBefore = null;
    this.baseline = null;
    this.lastT = null;
    this.pacer = new PacerView({ onFinished: () => this.onPacerFinished() });
    this.buildRatings('rating-before', (value) => { this.ratingBefore = value; });
    this.buildPaces();
    settings.onChange((values) => {
      const minutes = Number(values.chart_minutes) || 10;
      for (const chart of Object.values(this.charts)) chart.setWindow(minutes * 60);
      setText(byId('charts-title'), `Last ${minutes} minutes`);
      byId('chart-hr').setAttribute('aria-label', `Heart rate over the last ${minutes} minutes`);
      byId('chart-rmssd').setAttribute('aria-label', `RMSSD over the last ${minutes} minutes`);
      const pace = byId('pace');
      if (PACES.includes(Number(values.breaths_per_min))) pace.value = String(Number(values.breaths_per_min));
    });
    this.buildRatings('rating-after', (value) => this.rate('after', value));
    this.bind();
  }

  bind() {
    for (const button of document.querySelectorAll('[data-mark]')) {
      button.addEventListener('click', () => this.mark(button.dataset.mark, button));
    }
    this.el.noteForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.el.noteText.value.trim();
      if (!text) return;
      this.mark('note', null, text).then((ok) => { if (ok) this.el.noteText.value = ''; });
    });
    byId('btn-reset-start').addEventListener('click', () => this.startReset(this.suggested));
    byId('btn-not-now').addEventListener('click', () => this.notNow());
    byId('btn-reset-stop').addEventListener('click', () => this.stopReset());
    byId('btn-reset-other').addEventListener('click', () => this.otherReset());
    byId('btn-after-close').addEventListener('click', () => { this.el.afterCard.hidden = true; });
    byId('btn-any-reset').addEventListener('click', () => this.offerAnyReset());
  }

  async loadLibrary() {
    try {
      const data = await api.get('/api/resets');
      for (const reset of Array.isArray(data) ? data : []) if (reset && reset.id) this.library.set(reset.id, reset);
    } catch (error) {
      console.info('afterbeat: reset library not available yet', error.message);
    }
  }

  resetFrom(value) {
    if (!value) return null;
    if (typeof value === 'string') return this.library.get(value) ?? { id: value, title: value, instructions: [] };
    if (typeof value === 'object' && value.id && this.library.has(value.id)) return { ...this.library.get(value.id), ...value };
    return value;
  }

  // ---- live events ------------------------------------------------------------------

  onMetrics(m) {
    const tS = num(m.t_s);
    if (tS === null) return;
    if (this.lastT !== null && tS < this.lastT - 1) this.clearLive();
    this.lastT = tS;
    const hr = num(m.heart_rate_bpm);
    const rmssd = num(m.rmssd_ms);
    this.charts.hr.push(tS, hr);
    this.charts.rmssd.push(tS, rmssd);
    setText(this.el.hr, fmt(hr));
    setText(this.el.rmssd, fmt(rmssd));
    const minutes = Math.round((this.charts.hr.options.windowS ?? WINDOW_S) / 60);
    byId('chart-hr').setAttribute('aria-label', `Heart rate over the last ${minutes} minutes, now ${fmt(hr)} bpm`);
    byId('chart-rmssd').setAttribute('aria-label', `RMSSD over the last ${minutes} minutes, now ${fmt(rmssd)} ms`);
    setText(this.el.resp, fmt(num(m.respiration_rate_bpm), 1));
    setText(this.el.quality, qualityWords(m.quality));
    this.setScore(num(m.score));
    this.updateBand(m);
  }

  clearLive() {
    this.charts.hr.setPoints([]);
    this.charts.rmssd.setPoints([]);
    this.charts.hr.setMarks([]);
    this.charts.rmssd.setMarks([]);
    clear(this.el.marks);
  }

  setScore(score) {
    const el = this.el;
    if (score === null) {
      // Not read right now (warming up, patchy signal, moving): keep the last value, dimmed.
      el.score.dataset.held = 'true';
      if (el.score.dataset.score === '') {
        setText(el.scoreValue, '—');
        el.scoreMeter.setAttribute('aria-valuetext', 'not known yet');
      } else {
        el.scoreMeter.setAttribute('aria-valuetext', `not read right now, last ${el.score.dataset.score} of 100`);
      }
      return;
    }
    el.score.dataset.held = 'false';
    const s = Math.max(0, Math.min(100, score));
    setText(el.scoreValue, String(Math.round(s)));
    el.score.dataset.score = String(Math.round(s));
    el.scoreFill.style.width = `${s.toFixed(1)}%`;
    el.scoreMeter.setAttribute('aria-valuenow', String(Math.round(s)));
    el.scoreMeter.setAttribute('aria-valuetext', `${Math.round(s)} of 100, 50 is your usual`);
  }

  /** The baseline band: the person's resting median ± one spread (HR) or × e^±spread (RMSSD). */
  updateBand(m) {
    const b = this.baseline ?? {};
    const hr = num(m.baseline_heart_rate_bpm) ?? num(b.heart_rate_bpm);
    const hrSpread = num(b.heart_rate_spread_bpm) ?? 3;
    if (hr !== null) this.charts.hr.setBand(hr - hrSpread, hr + hrSpread);
    const lnSpread = num(b.ln_rmssd_spread) ?? 0.15;
    const rm = num(m.baseline_rmssd_ms) ?? num(b.rmssd_ms) ?? (num(b.ln_rmssd) !== null ? Math.exp(b.ln_rmssd) : null);
    if (rm !== null) this.charts.rmssd.setBand(rm * Math.exp(-lnSpread), rm * Math.exp(lnSpread));
  }

  /** Take the baseline summary from /api/status or a baseline event. */
  setBaseline(baseline) {
    if (!baseline || typeof baseline !== 'object') return;
    this.baseline = {
      heart_rate_bpm: num(baseline.heart_rate_bpm),
      heart_rate_spread_bpm: num(baseline.heart_rate_spread_bpm),
      ln_rmssd: num(baseline.ln_rmssd),
      ln_rmssd_spread: num(baseline.ln_rmssd_spread),
      rmssd_ms: num(baseline.rmssd_ms),
    };
    this.updateBand({});
  }

  onState(event) {
    const state = String(event.state ?? 'unknown');
    const reason = typeof event.reason === 'string' && event.reason ? event.reason : STATE_WORDS[state];
    this.el.calm.dataset.state = state;
    setText(this.el.calm, reason ?? STATE_WORDS.unknown);
  }

  onMarker(event) {
    const kind = String(event.kind ?? event.marker ?? 'note');
    const tS = num(event.t_s);
    const words = MARK_WORDS[kind] ?? kind;
    this.el.marks.prepend(markerItem(event, (id) => this.library.get(id)?.title ?? null));
    while (this.el.marks.children.length > 30) this.el.marks.lastElementChild.remove();
    if (tS !== null && kind !== 'note' && kind !== 'rating') {
      const short = words.replace(' started', '').replace(' ended', ' end');
      this.charts.hr.addMark(tS, short);
      this.charts.rmssd.addMark(tS, '');
    }
  }

  onSuggestion(event, chosen = false) {
    if (this.activeReset) return; // never interrupt a reset in progress
    byId('reset-picker-box').hidden = !chosen;
    const reset = this.resetFrom(event.reset);
    if (!reset) return;
    this.suggested = reset;
    const el = this.el;
    setText(el.suggestionEyebrow, event.gentle ? 'Something gentler you could try' : 'A reset you could try');
    setText(el.suggestionTitle, reset.title ?? reset.id);
    setText(el.suggestionReason, typeof event.reason === 'string' ? event.reason : '');
    const instructions = Array.isArray(reset.instructions) ? reset.instructions.join(' ') : (reset.instructions ?? '');
    setText(el.suggestionInstructions, instructions);
    const cautions = Array.isArray(reset.cautions) ? reset.cautions.join(' ') : (reset.cautions ?? '');
    setText(el.suggestionCautions, cautions);
    byId('pace-box').hidden = !reset.adjustable_pace;
    el.suggestion.dataset.resetId = reset.id ?? '';
    el.suggestion.dataset.tS = String(num(event.t_s) ?? '');
    el.suggestion.dataset.gentle = event.gentle ? 'true' : 'false';
    el.suggestion.hidden = false;
    el.afterCard.hidden = true;
  }

  /** "Not now" was recorded (here or in another window): put the suggestion away. */
  onDismissed() {
    if (!this.activeReset) this.el.suggestion.hidden = true;
  }

  /** A `reset` event: action "started" (with reset and timeline) or "stopped". */
  onResetEvent(event, type) {
    const action = String(event.action ?? '');
    const timeline = findTimeline(event);
    const stopped = action === 'stopped' || /end|stop/.test(type);
    if (stopped) {
      if (this.activeReset && (!event.reset_id || event.reset_id === this.activeReset.id)) this.finishResetView();
      return;
    }
    if (timeline) {
      const same = this.activeReset && this.pacer.timeline && this.pacer.timeline.start_s === timeline.start_s;
      if (!same) this.showPacer(this.resetFrom(event.reset ?? event.reset_id ?? timeline.reset_id) ?? {}, timeline);
    }
  }

  /** A `reset_effect` event: before-and-after medians (index, HR, RMSSD) and ratings. */
  onEffect(effect) {
    if (!effect || typeof effect !== 'object') return;
    if (this.activeReset && effect.reset_id === this.activeReset.id && !effect.end_t_s) return;
    const before = effect.before ?? {};
    const after = effect.after ?? {};
    const rows = [
      ['Activation score', scoreFromIndex(num(before.index)), scoreFromIndex(num(after.index))],
      ['Heart rate (bpm)', num(before.heart_rate_bpm), num(after.heart_rate_bpm)],
      ['RMSSD (ms)', num(before.rmssd_ms), num(after.rmssd_ms)],
      ['Your rating (0-10)', num(effect.rating_before), num(effect.rating_after)],
    ].filter(([, a, b]) => a !== null || b !== null);
    if (!rows.length) return;
    clear(this.el.effectBody);
    for (const [label, a, b] of rows) {
      this.el.effectBody.append(h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, fmt(a)), h('td', {}, fmt(b))));
    }
    const title = this.resetFrom(effect.reset_id)?.title;
    this.el.effectTable.dataset.resetId = String(effect.reset_id ?? '');
    this.el.effectTable.dataset.final = String(Boolean(effect.final));
    this.el.effectTable.hidden = false;
    setText(byId('effect-note'), effect.after
      ? `${title ? `${title}: ` : ''}medians of the 2 minutes before and the 3 minutes after. Whatever they show, this can unfold later.`
      : 'The numbers after a reset fill in over the next few minutes. Whatever they show, this can unfold later.');
    if (!this.activeReset) this.el.afterCard.hidden = false;
  }

  onStatus(status) {
    if (status.baseline) this.setBaseline(status.baseline);
    const active = status.reset;
    const timeline = findTimeline(active);
    if (active && timeline && !this.activeReset) {
      this.showPacer(this.resetFrom(active.reset ?? active.reset_id) ?? {}, timeline);
    }
  }

  // ---- actions ------------------------------------------------------------------------

  async mark(kind, button, text) {
    if (button) button.disabled = true;
    try {
      const body = { kind };
      if (text !== undefined) body.text = text;
      await api.post('/api/markers', body);
      if (button) flash(button, 'Marked');
      return true;
    } catch (error) {
      if (button) flash(button, 'Could not mark');
      console.info('afterbeat: marker not saved:', error.message);
      return false;
    } finally {
      if (button) setTimeout(() => { button.disabled = false; }, 600);
    }
  }

  async startReset(reset) {
    if (!reset) return;
    try {
      const body = { reset_id: reset.id };
      if (reset.adjustable_pace) body.breaths_per_min = Number(byId('pace').value);
      const answer = await api.post('/api/resets/start', body);
      const timeline = findTimeline(answer);
      if (timeline) this.showPacer(this.resetFrom(answer.reset ?? reset) ?? reset, timeline);
      if (this.ratingBefore !== null) await this.rate('before', this.ratingBefore, reset.id);
    } catch (error) {
      setText(this.el.suggestionReason, `The reset could not start: ${error.message}`);
    }
  }

  showPacer(reset, timeline) {
    this.activeReset = { ...reset, id: reset.id ?? timeline.reset_id };
    this.lastResetId = this.activeReset.id;
    this.el.suggestion.hidden = true;
    this.el.afterCard.hidden = true;
    setText(byId('after-title'), 'How was that?');
    for (const b of document.querySelectorAll('#rating-after button')) b.setAttribute('aria-pressed', 'false');
    setText(this.el.pacerTitle, reset.title ?? reset.short_name ?? 'Reset');
    this.el.pacerCard.hidden = false;
    this.el.pacerCard.dataset.resetId = this.activeReset.id ?? '';
    const hadFocus = document.activeElement;
    this.pacer.start(timeline);
    // The Start button the person pressed just disappeared: keep keyboard focus in the reset.
    if (hadFocus && hadFocus.closest('#suggestion')) byId('btn-reset-stop').focus();
  }

  async stopReset() {
    // Already stopped (the timer ran out, another window) or stopping: nothing to send.
    if (!this.activeReset || this.stopping) return;
    this.stopping = true;
    try {
      await api.post('/api/resets/stop', { finished: Boolean(this.pacer.finishedSent) });
    } catch (error) {
      console.info('afterbeat: stop not recorded:', error.message);
    } finally {
      this.stopping = false;
    }
    this.finishResetView();
  }

  finishResetView() {
    this.pacer.stop();
    this.activeReset = null;
    const hadFocus = this.el.pacerCard.contains(document.activeElement);
    this.el.pacerCard.hidden = true;
    this.el.afterCard.hidden = false;
    if (hadFocus) byId('btn-after-close').focus();
    this.ratingBefore = null;
    for (const b of document.querySelectorAll('#rating-before button')) b.setAttribute('aria-pressed', 'false');
  }

  /** The planned time is up: record the reset as finished and ask how it was. */
  onPacerFinished() {
    this.stopReset();
    setText(byId('after-title'), 'That was the whole reset. How was that?');
  }

  async otherReset() {
    const current = this.activeReset;
    await this.stopReset();
    this.el.afterCard.hidden = true;
    const kinds = current?.kind === 'breathing' ? ['movement', 'sensory'] : ['breathing'];
    const next = [...this.library.values()].find((r) => kinds.includes(r.kind));
    if (next) this.onSuggestion({ reset: next, reason: 'Another kind of reset, if you like.', gentle: true });
  }

  async notNow() {
    this.el.suggestion.hidden = true;
    try {
      await api.post('/api/suggestion/dismiss', {});
    } catch (error) {
      console.info('afterbeat: dismiss not recorded:', error.message);
    }
  }

  /** "Start a reset any time": the suggestion card with a chooser over the whole library. */
  offerAnyReset() {
    if (this.activeReset || !this.library.size) return;
    const picker = byId('reset-picker');
    if (!picker.options.length) {
      const groups = { breathing: 'Breathing', movement: 'Movement', sensory: 'Senses', ritual: 'Closing' };
      for (const [kind, label] of Object.entries(groups)) {
        const group = h('optgroup', { label });
        for (const r of this.library.values()) if (r.kind === kind) group.append(h('option', { value: r.id }, r.title));
        if (group.children.length) picker.append(group);
      }
      picker.addEventListener('change', () => {
        this.onSuggestion({ reset: picker.value, reason: 'You can start a reset whenever you like.' }, true);
      });
    }
    picker.value = this.library.has('resonance') ? 'resonance' : picker.options[0].value;
    this.onSuggestion({ reset: picker.value, reason: 'You can start a reset whenever you like.' }, true);
    picker.focus();
  }

  async rate(when, rating, resetId) {
    const body = { rating, when };
    const id = resetId ?? this.lastResetId;
    if (id) body.reset_id = id;
    try {
      await api.post('/api/resets/rate', body);
    } catch (error) {
      console.info('afterbeat: rating not recorded:', error.message);
    }
  }

  buildPaces() {
    const pace = byId('pace');
    for (const value of PACES) {
      const inhale = (60 / value) * 0.4;
      const s = (x) => x.toFixed(1).replace(/\.0$/, '');
      const words = `${value} a minute: in ${s(inhale)} s, out ${s(60 / value - inhale)} s`;
      pace.append(h('option', { value: String(value) }, value === 6 ? `${words} (usual)` : words));
    }
    pace.value = '6';
    pace.addEventListener('change', () => settings.update({ breaths_per_min: Number(pace.value) }));
  }

  buildRatings(id, onPick) {
    const row = byId(id);
    for (let v = 0; v <= 10; v += 1) {
      const button = h('button', { type: 'button', class: 'rate', 'aria-pressed': 'false', 'aria-label': `${v} of 10` }, String(v));
      button.addEventListener('click', () => {
        for (const b of row.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
        onPick(v);
      });
      row.append(button);
    }
  }
}

/** Display score 0-100 from the arousal index, as afterbeat.arousal: 100 / (1 + e^(-1.7 A)). */
export function scoreFromIndex(index) {
  return index === null ? null : 100 / (1 + Math.exp(-1.7 * index));
}

const QUALITY_WORDS = {
  good: 'Good',
  hr_only: 'Heart rate only',
  breathing: 'Paced breathing',
  movement: 'Moving',
  poor: 'Unclear',
  warming_up: 'Warming up',
  no_baseline: 'No baseline yet',
  no_beats: 'No beats',
};

function qualityWords(quality) {
  if (typeof quality !== 'string') return '—';
  return QUALITY_WORDS[quality] ?? quality.replace(/_/g, ' ');
}

function flash(button, words) {
  const original = button.dataset.label ?? button.textContent;
  button.dataset.label = original;
  button.textContent = words;
  setTimeout(() => { button.textContent = original; }, 1400);
}

export { STATE_WORDS };
