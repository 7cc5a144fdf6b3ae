// The "Now" view: calm line, activation score, numbers, live charts and marks.
// The reset cards beside them live in resetcard.js.

import { api } from './api.js';
import { TimeChart } from './chart.js';
import { byId, clear, connectionOf, fmt, MARK_WORDS, markerItem, NO_BEATS_STATES, resetEnd, setText } from './dom.js';
import { settings } from './settings.js';

const WINDOW_S = 600;

const STATE_WORDS = {
  calibrating: 'Getting to know your rhythm. The first readings come after a few minutes.',
  settled: 'Your body looks settled, close to your usual.',
  activated: 'Somewhat above your usual.',
  elevated: 'Above your usual for a while.',
  unknown: 'The signal is unclear right now, so afterbeat is holding off on reading it.',
};

// Why the breathing rate is not shown, one line each (reasons from afterbeat.hrv.breathing).
// The three "no clear rhythm" reasons share one line, so the line does not change every 5 s
// when the estimate only moves between them; none of them is about the signal.
const NO_CLEAR_RHYTHM = 'No clear breathing rhythm in your heartbeat right now.';
export const BREATHING_WHY = {
  too_short: 'Needs about a minute of steady beats first.',
  poor_signal: 'Some beats in the last minute were missed or irregular.',
  no_clear_peak: NO_CLEAR_RHYTHM,
  competing_peaks: NO_CLEAR_RHYTHM,
  estimates_disagree: NO_CLEAR_RHYTHM,
};

/** The Signal tile: the beats alone (the server's ``signal``), never movement or breathing. */
export const SIGNAL_WORDS = {
  clean: 'Good',
  patchy: 'Patchy',
  hr_only: 'Heart rate only',
  warming_up: 'Starting',
  no_beats: 'No beats',
};

/** The Signal tile's words for a metrics event (a dash when the server did not say). */
export function signalWords(m) {
  return typeof m.signal === 'string' ? (SIGNAL_WORDS[m.signal] ?? m.signal.replace(/_/g, ' ')) : '—';
}

/** The calm line right after a reset ended, by the state shown (no suggestion of another). */
export const AFTER_RESET_WORDS = {
  settled: 'The reset has ended. You look settled, close to your usual.',
  activated: 'The reset has ended. Still somewhat above your usual; that is fine, it can take a while.',
  elevated: 'The reset has ended. Still above your usual; that is fine, it can take a while.',
};

export const AGAIN_WORDS = 'Still above your usual since the reset. Another one is here if you want it, or let it be: this can unfold later.';

/** A breathing rate (breaths/min) as shown: whole breaths, or a dash when unknown. */
export function breathingText(rateBpm) {
  return typeof rateBpm === 'number' && Number.isFinite(rateBpm) ? String(Math.round(rateBpm)) : '—';
}

/**
 * The one line under the breathing number: during a breathing reset the pacer's pace (the
 * rate is known, so nothing is guessed); when the rate is unknown, why; else nothing.
 */
export function breathingWhy(m) {
  if (num(m.pacer_bpm) !== null) return 'Not counted while the pacer sets the pace.';
  if (num(m.respiration_rate_bpm) !== null) return '';
  const reason = typeof m.respiration_reason === 'string' ? m.respiration_reason : '';
  if (BREATHING_WHY[reason]) return BREATHING_WHY[reason];
  if (m.rr_available === false) return 'Needs beat-to-beat data from the strap.';
  return 'Not read yet.';
}

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export class NowView {
  /** @param {{titleFor: (resetId: string) => string | null}} options */
  constructor({ titleFor }) {
    this.titleFor = titleFor;
    this.el = {
      calm: byId('calm-line'),
      calmNumbers: byId('calm-numbers'),
      score: byId('score'),
      scoreValue: byId('score-value'),
      scoreFill: byId('score-fill'),
      scoreMeter: byId('score-meter'),
      scoreWords: byId('score-words'),
      hr: byId('num-hr'),
      rmssd: byId('num-rmssd'),
      resp: byId('num-resp'),
      respWhy: byId('resp-why'),
      respTile: byId('resp-tile'),
      quality: byId('num-quality'),
      marks: byId('marks-list'),
      noteForm: byId('note-form'),
      noteText: byId('note-text'),
      baselineNote: byId('baseline-note'),
    };
    this.charts = {
      hr: new TimeChart(byId('chart-hr'), { color: '--chart-hr', windowS: WINDOW_S, minSpan: 12 }),
      rmssd: new TimeChart(byId('chart-rmssd'), { color: '--chart-rmssd', windowS: WINDOW_S, minSpan: 15, floorZero: true }),
    };
    this.baseline = null;
    this.lastT = null;
    this.metricsListeners = [];
    settings.onChange((values) => {
      const minutes = Number(values.chart_minutes) || 10;
      for (const chart of Object.values(this.charts)) chart.setWindow(minutes * 60);
      setText(byId('charts-title'), `Last ${minutes} minutes`);
      byId('chart-hr').setAttribute('aria-label', `Heart rate over the last ${minutes} minutes`);
      byId('chart-rmssd').setAttribute('aria-label', `Heart-rate variability (RMSSD) over the last ${minutes} minutes`);
    });
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
  }

  // ---- live events ------------------------------------------------------------------

  /** Hear every metrics event after this view has shown it (the reset card's heart-follows-the-pacer line). */
  listen(listener) {
    this.metricsListeners.push(listener);
  }

  onMetrics(m) {
    for (const listener of this.metricsListeners) listener(m);
    const tS = num(m.t_s);
    if (tS === null) return;
    if (this.lastT !== null && tS < this.lastT - 1) this.clearLive();
    this.lastT = tS;
    resetEnd.seen(tS);
    const hr = num(m.heart_rate_bpm);
    const rmssd = num(m.rmssd_ms);
    this.charts.hr.push(tS, hr);
    this.charts.rmssd.push(tS, rmssd);
    setText(this.el.hr, fmt(hr));
    setText(this.el.rmssd, fmt(rmssd));
    const minutes = Math.round((this.charts.hr.options.windowS ?? WINDOW_S) / 60);
    byId('chart-hr').setAttribute('aria-label', `Heart rate over the last ${minutes} minutes, now ${fmt(hr)} bpm`);
    byId('chart-rmssd').setAttribute('aria-label', `Heart-rate variability (RMSSD) over the last ${minutes} minutes, now ${fmt(rmssd)} ms`);
    // Never a guessed number: a dash and one line of why when the server says unknown.
    setText(this.el.resp, breathingText(num(m.respiration_rate_bpm)));
    setText(this.el.respWhy, breathingWhy(m));
    this.el.respTile.dataset.reason = typeof m.respiration_reason === 'string' ? m.respiration_reason : '';
    this.el.respTile.dataset.pacer = String(num(m.pacer_bpm) ?? '');
    setText(this.el.quality, signalWords(m));
    // The numbers against the usual, from this very update (the state's sentence has none).
    setText(this.el.calmNumbers, typeof m.compare_words === 'string' ? m.compare_words : '');
    if (typeof m.state === 'string' && m.state) this.shownState = m.state;
    // The number and its words come from the server's one mapping (activation/display.py).
    this.setScore(num(m.score), typeof m.score_words === 'string' ? m.score_words : '',
      typeof m.score_band === 'string' ? m.score_band : '');
    this.updateBand(m);
  }

  clearLive() {
    this.charts.hr.setPoints([]);
    this.charts.rmssd.setPoints([]);
    this.charts.hr.setMarks([]);
    this.charts.rmssd.setMarks([]);
    clear(this.el.marks);
  }

  setScore(score, words = '', band = '') {
    const el = this.el;
    if (score === null) {
      // Not read right now (warming up, patchy signal, moving): keep the last value, dimmed.
      // The words say it is the last reading, not how things are now.
      el.score.dataset.held = 'true';
      if (el.score.dataset.score === '') {
        setText(el.scoreValue, '—');
        el.scoreMeter.setAttribute('aria-valuetext', 'not known yet');
      } else {
        const last = el.score.dataset.words ?? '';
        setText(el.scoreWords, `Not read right now${last ? ` (last reading: ${last.toLowerCase()})` : ''}`);
        el.scoreMeter.setAttribute('aria-valuetext', `not read right now, last ${el.score.dataset.score} of 100`);
      }
      return;
    }
    el.score.dataset.held = 'false';
    // Shown exactly as sent: a whole number 0-100 from the server.
    const shown = String(score);
    setText(el.scoreValue, shown);
    setText(el.scoreWords, words);
    el.score.dataset.words = words;
    el.score.dataset.score = shown;
    el.score.dataset.band = band;
    el.scoreFill.style.width = `${Math.max(0, Math.min(100, score))}%`;
    el.scoreMeter.setAttribute('aria-valuenow', shown);
    el.scoreMeter.setAttribute('aria-valuetext', `${shown} of 100, 50 is your usual${words ? `: ${words.toLowerCase()}` : ''}`);
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
    const count = num(baseline.recording_count);
    const needed = num(baseline.recordings_needed) ?? 3;
    setText(this.el.baselineNote, baseline.provisional === true && count !== null
      ? ` (your usual is still being learned: ${count} of ${needed} rest${needed === 1 ? '' : 's'} so far)` : '');
    this.baseline = {
      heart_rate_bpm: num(baseline.heart_rate_bpm),
      heart_rate_spread_bpm: num(baseline.heart_rate_spread_bpm),
      ln_rmssd: num(baseline.ln_rmssd),
      ln_rmssd_spread: num(baseline.ln_rmssd_spread),
      rmssd_ms: num(baseline.rmssd_ms),
    };
    this.updateBand({});
  }

  /** The baseline was reset: no band and no note until a new rest is marked. */
  clearBaseline() {
    this.baseline = null;
    setText(this.el.baselineNote, ' (none yet: mark a few minutes of rest)');
    this.charts.hr.setBand(null, null);
    this.charts.rmssd.setBand(null, null);
  }

  onState(event) {
    const state = String(event.state ?? 'unknown');
    const reason = typeof event.reason === 'string' && event.reason ? event.reason : STATE_WORDS[state];
    this.el.calm.dataset.state = state;
    this.shownState = state;
    this.calmText = reason ?? STATE_WORDS.unknown;
    if (!this.resetRunning) setText(this.el.calm, this.calmLine());
  }

  /**
   * A reset started or ended: say so while it runs; when it ends, say where things stand now
   * (never the suggestion that led to it: the person has just done one).
   */
  onReset(running) {
    this.resetRunning = running;
    if (running) {
      setText(this.el.calm, 'A reset is running. Take your time; the numbers here follow along.');
      return;
    }
    resetEnd.ended(this.lastT);
    const state = this.shownState ?? this.el.calm.dataset.state;
    this.calmText = AFTER_RESET_WORDS[state] ?? STATE_WORDS[state] ?? STATE_WORDS.unknown;
    setText(this.el.calm, this.calmLine());
  }

  /** A suggestion's own words replace the state's, which were written when the state began. */
  onSuggestion(event) {
    if (typeof event.detail !== 'string' || !event.detail) return;
    this.calmText = this.soonAfterReset(event) ? AGAIN_WORDS : event.detail;
    if (!this.resetRunning) setText(this.el.calm, this.calmLine());
  }

  /** True when a suggestion comes within SOON_AFTER_RESET_S (session time) of a reset's end. */
  soonAfterReset(event) {
    return resetEnd.soonAfter(num(event.t_s) ?? this.lastT);
  }

  onMarker(event) {
    const kind = String(event.kind ?? event.marker ?? 'note');
    const tS = num(event.t_s);
    const words = MARK_WORDS[kind] ?? kind;
    this.el.marks.prepend(markerItem(event, this.titleFor));
    while (this.el.marks.children.length > 30) this.el.marks.lastElementChild.remove();
    if (tS !== null && kind !== 'note' && kind !== 'rating') {
      const short = words.replace(' started', '').replace(' ended', ' end');
      this.charts.hr.addMark(tS, short);
      this.charts.rmssd.addMark(tS, '');
    }
  }

  onStatus(status) {
    if (status.baseline) this.setBaseline(status.baseline);
    // No beats come while the strap reconnects or after the recording (or demo) has ended:
    // the last score stays, dimmed, and its words say it is the last reading.
    const conn = connectionOf(status);
    if (typeof conn.state !== 'string') return;
    const noBeats = NO_BEATS_STATES.has(conn.state);
    if (noBeats) {
      this.setScore(null);
      setText(this.el.quality, SIGNAL_WORDS.no_beats);
    }
    if (noBeats === Boolean(this.noBeats)) return;
    this.noBeats = noBeats;
    // The calm line was written for the last readings: say so until beats come again.
    if (!this.resetRunning && this.calmText) setText(this.el.calm, this.calmLine());
  }

  /** The calm line: the state's words, marked as the last reading's while no beats arrive. */
  calmLine() {
    const text = this.calmText ?? '';
    return this.noBeats && text ? `No beats are arriving now. At the last reading: ${text}` : text;
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
}

function flash(button, words) {
  const original = button.dataset.label ?? button.textContent;
  button.dataset.label = original;
  button.textContent = words;
  setTimeout(() => { button.textContent = original; }, 1400);
}
