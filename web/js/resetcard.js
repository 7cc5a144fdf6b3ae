// The reset cards: a suggestion (or a reset chosen any time), the pacer while it runs, and the
// after card with an optional rating and the before-and-after numbers.

import { api } from './api.js';
import { byId, clear, connectionOf, fmt, h, resetEnd, setText, settledMeans, settleWords, SOURCE_ENDED_STATES, spanText } from './dom.js';
import { PacerView } from './pacer.js';
import { settings } from './settings.js';

const PACES = [4.5, 5, 5.5, 6, 6.5, 7];
/** The demo starts a suggested reset by itself after this countdown (s) ... */
export const DEMO_COUNTDOWN_S = 10;
/** ... and ends it after this long (s), so the whole story fits in about five minutes. */
export const DEMO_RESET_S = 120;
const FOCUS_KEY = 'afterbeat.focus';

/**
 * Calm words for whether the heart rhythm follows the pacer, from the server's
 * ``pacer_following`` (share 0-1 of the slow heart-rate variation at the pacer's pace, or null),
 * ``pacer_following_ok`` (its verdict) and ``pacer_following_reason`` (why it is null: the
 * breathing reasons). Never a grade, and never the signal's fault unless beats were missed.
 */
export function followWords(share, ok, reason = null) {
  if (share === null) {
    if (reason === 'poor_signal') return 'Some beats in the last minute were missed or irregular, so this waits for a clean minute.';
    if (reason && reason !== 'too_short') return 'No clear rhythm in your heartbeat yet. Just keep following the circle.';
    return 'Getting started: the first reading comes after about a minute.';
  }
  if (ok === true) return 'Yes: your heart rhythm is following the pacer.';
  if (share >= 0.25) return 'Your heart rhythm is starting to follow the pacer.';
  return 'Your heart rhythm is not moving with this pace yet. Just keep following the circle.';
}

/** The suggestion card's words once the state is back to settled (the card stays, re-worded). */
export const SETTLED_AGAIN_WORDS = 'You look settled again; the reset is still here if you want it.';
/** Its words when it comes within a few minutes of a reset's end. */
export const AFTER_RESET_CARD_WORDS = 'Another reset is here if you want it, or let it be: this can unfold later.';
/** The after card's note while its numbers are still to come ... */
export const EFFECT_PENDING = 'The numbers after a reset fill in over the next few minutes. Whatever they show, this can unfold later.';
/** ... and when no heartbeats arrive (the recording or the demo has ended). */
export const EFFECT_NO_DATA = 'No heartbeats are arriving, so there are no before-and-after numbers for this reset.';

/** A before/after window's length in words, from its own bounds (s). */
function windowText(window) {
  const span = Number(window?.end_t_s) - Number(window?.start_t_s);
  return Number.isFinite(span) && span > 0 ? spanText(span) : 'minutes';
}

/** While the reading is of another pace than the one on screen (just after a change). */
export const NEW_PACE_WORDS = 'Listening at the new pace: a first reading comes after about a minute.';

/** Fill (0-1) of the following bar: the share itself, empty while unknown. */
export function followFill(share) {
  return share === null ? 0 : Math.max(0, Math.min(1, share));
}

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The pacing timeline in a reset start answer, `reset` event or status `reset` (or null). */
export function findTimeline(data) {
  const timeline = data && typeof data === 'object' ? data.timeline : null;
  return timeline && typeof timeline === 'object' && 'start_s' in timeline ? timeline : null;
}

/** The person's focus-mode choice (true/false), or null for the default (on for phones). */
function readFocus() {
  try {
    const value = localStorage.getItem(FOCUS_KEY);
    return value === 'on' ? true : value === 'off' ? false : null;
  } catch {
    return null;
  }
}

export class ResetCards {
  constructor() {
    this.el = {
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
    };
    this.library = new Map();
    this.suggested = null; // reset JSON on offer
    this.activeReset = null; // reset JSON being paced
    this.ratingBefore = null;
    this.resetStartS = null; // session s of the latest reset's start: its card shows only its numbers
    this.sourceEnded = false; // no heartbeats arrive (the recording or the demo has ended)
    this.demo = false;
    this.countdown = null; // {timer, endsAt} while the demo counts down to a suggested reset
    this.focusWanted = readFocus();
    this.onRunning = () => {}; // told true when a reset starts showing, false when it ends
    this.pacer = new PacerView({ onFinished: () => this.onPacerFinished() });
    this.showRule(null);
    this.buildRatings('rating-before', (value) => { this.ratingBefore = value; });
    this.buildRatings('rating-after', (value) => this.rate('after', value));
    this.buildPaces();
    settings.onChange((values) => {
      if (PACES.includes(Number(values.breaths_per_min))) byId('pace').value = String(Number(values.breaths_per_min));
    });
    byId('btn-reset-start').addEventListener('click', () => this.startReset(this.suggested));
    byId('btn-not-now').addEventListener('click', () => this.notNow());
    byId('btn-countdown-cancel').addEventListener('click', () => this.cancelCountdown(true));
    byId('btn-focus').addEventListener('click', () => this.toggleFocus());
    for (const id of ['suggestion-more', 'pace', 'reset-picker']) {
      // Choosing anything in the card is choosing otherwise: the demo stops counting down.
      byId(id).addEventListener(id === 'suggestion-more' ? 'toggle' : 'change', () => this.cancelCountdown(true));
    }
    byId('btn-reset-stop').addEventListener('click', () => this.stopReset());
    byId('btn-reset-other').addEventListener('click', () => this.otherReset());
    byId('btn-after-close').addEventListener('click', () => { this.el.afterCard.hidden = true; });
    byId('btn-any-reset').addEventListener('click', () => this.offerAnyReset());
  }

  /** The reset's title from the library, or null. */
  titleFor(resetId) {
    return this.library.get(resetId)?.title ?? null;
  }

  /** Say the settling rule in force (s; null: not known yet) wherever it is defined on the
   *  page; a report of a past session says the rule its own result was judged by. */
  showRule(holdS) {
    for (const el of document.querySelectorAll('.settle-definition:not([data-own-rule])')) {
      setText(el, settledMeans(holdS));
    }
  }

  /** A running reset in /api/status (after a reload, or started in another window). */
  onStatus(status) {
    const rule = status.rule && typeof status.rule === 'object' ? status.rule : null;
    if (rule && typeof rule.settle_hold_s === 'number') this.showRule(rule.settle_hold_s);
    if (typeof status.demo === 'boolean') this.demo = status.demo;
    const conn = connectionOf(status);
    if (typeof conn.state === 'string') this.sourceEnded = SOURCE_ENDED_STATES.has(conn.state);
    const active = status.reset;
    const timeline = findTimeline(active);
    if (active && timeline && !this.activeReset) {
      this.showPacer(this.resetFrom(active.reset ?? active.reset_id) ?? {}, timeline, active.t_s);
    }
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

  /** A suggestion; ``replayed``: kept from before this connection's hello (history). */
  onSuggestion(event, chosen = false, replayed = false) {
    if (this.activeReset) return; // never interrupt a reset in progress
    if (this.countdown && !chosen) return; // nor the demo's countdown to the one on offer
    byId('reset-picker-box').hidden = !chosen;
    const reset = this.resetFrom(event.reset);
    if (!reset) return;
    this.suggested = reset;
    const el = this.el;
    setText(el.suggestionEyebrow, event.gentle ? 'Something gentler you could try' : 'A reset you could try');
    setText(el.suggestionTitle, reset.title ?? reset.id);
    const tS = num(event.t_s) ?? num(this.lastT);
    const soon = !chosen && resetEnd.soonAfter(tS);
    this.suggestionReason = soon ? AFTER_RESET_CARD_WORDS : (typeof event.reason === 'string' ? event.reason : '');
    setText(el.suggestionReason, this.suggestionReason);
    el.suggestion.dataset.settledAgain = 'false';
    el.suggestion.dataset.chosen = chosen ? 'true' : 'false';
    const instructions = Array.isArray(reset.instructions) ? reset.instructions.join(' ') : (reset.instructions ?? '');
    setText(el.suggestionInstructions, instructions);
    const cautions = Array.isArray(reset.cautions) ? reset.cautions.join(' ') : (reset.cautions ?? '');
    setText(el.suggestionCautions, cautions);
    byId('pace-box').hidden = !reset.adjustable_pace;
    el.suggestion.dataset.resetId = reset.id ?? '';
    el.suggestion.dataset.tS = String(num(event.t_s) ?? '');
    el.suggestion.dataset.gentle = event.gentle ? 'true' : 'false';
    el.suggestion.hidden = false;
    if (chosen) el.afterCard.hidden = true; // a later suggestion leaves the results in place
    // The demo starts its first suggested reset by itself; one chosen from the library never
    // does.
    if (chosen) this.cancelCountdown(true);
    // Only for a suggestion made now, while the demo still plays: a reload after the story
    // (a replayed suggestion, or no beats any more) never starts a reset by itself.
    else if (this.demo && !this.demoAutoStarted && !event.gentle && !replayed && !this.sourceEnded) {
      this.startCountdown();
    }
  }

  /** The demo: start the suggested reset by itself after a short, visible countdown. */
  startCountdown() {
    this.demoAutoStarted = true;
    const endsAt = Date.now() + DEMO_COUNTDOWN_S * 1000;
    const box = byId('suggestion-countdown');
    const show = () => {
      const left = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
      setText(byId('countdown-text'), `The demo starts this by itself in ${left} s.`);
      box.dataset.leftS = String(left);
      if (left <= 0) {
        this.cancelCountdown(false);
        if (!this.activeReset && !this.el.suggestion.hidden) this.startReset(this.suggested);
      }
    };
    box.hidden = false;
    this.countdown = { timer: setInterval(show, 250) };
    show();
  }

  /** Stop the demo's countdown (the person chose otherwise, or the card went away). */
  cancelCountdown(byPerson) {
    if (!this.countdown) return;
    clearInterval(this.countdown.timer);
    this.countdown = null;
    const box = byId('suggestion-countdown');
    box.hidden = true;
    box.dataset.cancelled = String(Boolean(byPerson));
  }

  /**
   * A state event: a suggestion still on screen once the state is back to settled is re-worded
   * (it stays, as an offer); a later activated or elevated state brings its own words back.
   */
  onState(event) {
    const el = this.el;
    if (el.suggestion.hidden || el.suggestion.dataset.chosen === 'true') return;
    const settled = event.state === 'settled';
    if (!settled && !['activated', 'elevated'].includes(event.state)) return;
    el.suggestion.dataset.settledAgain = String(settled);
    setText(el.suggestionEyebrow, settled ? 'If you still want it' : (el.suggestion.dataset.gentle === 'true' ? 'Something gentler you could try' : 'A reset you could try'));
    setText(el.suggestionReason, settled ? SETTLED_AGAIN_WORDS : (this.suggestionReason ?? ''));
  }

  /** A metrics event: during a breathing reset, say whether the heart follows the pacer. */
  onMetrics(m) {
    if (num(m.t_s) !== null) this.lastT = m.t_s;
    resetEnd.seen(num(m.t_s));
    const box = byId('follow');
    const breathing = Boolean(this.activeReset && this.pacer.timeline?.pattern?.phases?.length);
    box.hidden = !breathing;
    if (!breathing) return;
    // Measured against the pace on screen only: right after a change of pace (or before the
    // server knows it) the reading is of the old pace, so it waits.
    const cycleS = num(this.pacer.timeline.pattern.cycle_s)
      ?? this.pacer.timeline.pattern.phases.reduce((sum, p) => sum + p.duration_s, 0);
    const samePace = num(m.pacer_bpm) !== null && Math.abs(m.pacer_bpm - 60 / cycleS) < 0.05;
    const share = samePace ? num(m.pacer_following) : null;
    const ok = samePace && typeof m.pacer_following_ok === 'boolean' ? m.pacer_following_ok : null;
    box.dataset.following = share === null ? '' : String(share);
    box.dataset.followingOk = ok === null ? '' : String(ok);
    box.dataset.coherence = String(num(m.coherence_share) ?? '');
    byId('follow-fill').style.width = `${(followFill(share) * 100).toFixed(1)}%`;
    const otherPace = !samePace && num(m.pacer_bpm) !== null;
    setText(byId('follow-words'), otherPace ? NEW_PACE_WORDS : followWords(share, ok,
      samePace && typeof m.pacer_following_reason === 'string' ? m.pacer_following_reason : null));
  }

  /** Focus mode: the running reset takes the screen (always on a phone, on request elsewhere). */
  applyFocus() {
    const narrow = window.matchMedia('(max-width: 820px)').matches;
    const on = Boolean(this.activeReset) && (this.focusWanted ?? narrow);
    document.body.dataset.focus = on ? 'on' : 'off';
    const button = byId('btn-focus');
    button.setAttribute('aria-pressed', String(on));
    setText(button, on ? 'Show everything' : 'Only the reset on screen');
    for (const el of document.querySelectorAll('.top, .foot, .banner, .col > .card:not(.pacer-card)')) {
      if (on) el.setAttribute('inert', '');
      else el.removeAttribute('inert');
    }
    if (on) window.scrollTo(0, 0);
  }

  toggleFocus() {
    const on = document.body.dataset.focus === 'on';
    this.focusWanted = !on;
    try {
      localStorage.setItem(FOCUS_KEY, this.focusWanted ? 'on' : 'off');
    } catch {
      // storage may be off; the choice still holds for this page
    }
    this.applyFocus();
    byId('btn-focus').focus();
  }

  /** "Not now" was recorded (here or in another window): put the suggestion away. */
  onDismissed() {
    if (!this.activeReset) this.el.suggestion.hidden = true;
    this.cancelCountdown(true);
  }

  /** A `reset` event: action "started" (with reset and timeline), "paced" or "stopped".
   *  ``replayed``: sent before this connection's hello, whose status is the truth about
   *  whether one runs now, so every replayed reset event is history (a kept "stopped" of an
   *  earlier run of the same reset must not end the one running). */
  onResetEvent(event, type, replayed = false) {
    if (replayed) return;
    const action = String(event.action ?? '');
    const timeline = findTimeline(event);
    const stopped = action === 'stopped' || /end|stop/.test(String(type ?? ''));
    if (stopped) {
      if (this.activeReset && this.isRunningOne(event)) this.finishResetView();
      return;
    }
    if (timeline) {
      const same = this.activeReset && this.pacer.timeline && this.pacer.timeline.start_s === timeline.start_s;
      if (same) return;
      if (action === 'paced' && this.activeReset && this.activeReset.id === event.reset_id) {
        // A new pace (here or in another window): the same reset, breathing on without a jump.
        this.showPacePicker(this.activeReset, timeline);
        this.pacer.start(timeline);
      } else {
        this.showPacer(this.resetFrom(event.reset ?? event.reset_id ?? timeline.reset_id) ?? {}, timeline, event.t_s);
      }
    }
  }

  /** True when a "stopped" event is about the reset shown: the same library id and, when
   *  both are known, the same start (session s; a stop's start is its t_s - duration_s). */
  isRunningOne(event) {
    if (event.reset_id && event.reset_id !== this.activeReset.id) return false;
    const endS = num(event.t_s);
    const durationS = num(event.duration_s);
    if (endS === null || durationS === null || this.resetStartS === null) return true;
    return Math.abs(endS - durationS - this.resetStartS) <= 0.5;
  }

  /** The stream's hello: its status says which reset runs now (the events before it are
   *  history). One that ended while this page was away is closed; another one is shown. */
  onHello(status) {
    this.onStatus(status);
    if (!status || !('reset' in status) || !this.activeReset || this.stopping) return;
    const active = status.reset;
    const startS = active ? num(active.t_s) : null;
    if (!active) this.finishResetView();
    else if (startS !== null && this.resetStartS !== null && Math.abs(startS - this.resetStartS) > 0.5) {
      const timeline = findTimeline(active);
      if (timeline) this.showPacer(this.resetFrom(active.reset ?? active.reset_id) ?? {}, timeline, active.t_s);
    }
  }

  /** A `reset_effect` event: before-and-after medians (index, HR, RMSSD) and ratings. */
  onEffect(effect) {
    if (!effect || typeof effect !== 'object') return;
    if (this.activeReset && effect.reset_id === this.activeReset.id && !effect.end_t_s) return;
    // Only the numbers measured for the latest reset (a late one of an earlier reset waits).
    const startS = num(effect.start_t_s);
    if (this.resetStartS !== null && (startS === null || Math.abs(startS - this.resetStartS) > 0.5)) return;
    const before = effect.before ?? {};
    const after = effect.after ?? {};
    // Every number with its direction; nothing here is recomputed from the index.
    const rows = [
      ['Heart rate (bpm)', 'lower usually means calmer', num(before.heart_rate_bpm), num(after.heart_rate_bpm)],
      ['Heart-rate variability (ms)', 'higher usually means more relaxed', num(before.rmssd_ms), num(after.rmssd_ms)],
      ['How stirred up (0-10)', 'lower means calmer', num(effect.rating_before), num(effect.rating_after)],
    ].filter(([, , a, b]) => a !== null || b !== null);
    if (!rows.length) return;
    clear(this.el.effectBody);
    for (const [label, direction, a, b] of rows) {
      this.el.effectBody.append(h('tr', {},
        h('th', { scope: 'row' }, label, h('small', { class: 'direction' }, direction)),
        h('td', {}, fmt(a)), h('td', {}, fmt(b))));
    }
    if (typeof effect.settle_hold_s === 'number') {
      setText(this.el.afterCard.querySelector('.settle-definition'), settledMeans(effect.settle_hold_s));
    }
    const settle = byId('effect-settle');
    const settled = settleWords(effect);
    settle.hidden = !settled;
    setText(settle, settled);
    const title = this.resetFrom(effect.reset_id)?.title;
    this.el.effectTable.dataset.resetId = String(effect.reset_id ?? '');
    this.el.effectTable.dataset.final = String(Boolean(effect.final));
    this.el.effectTable.hidden = false;
    setText(byId('effect-note'), effect.after
      ? `${title ? `${title}: ` : ''}the ${windowText(effect.before)} before and the ${windowText(effect.after)} after. Whatever they show, this can unfold later.`
      : (this.sourceEnded ? EFFECT_NO_DATA : EFFECT_PENDING));
    if (!this.activeReset) this.el.afterCard.hidden = false;
  }

  async startReset(reset) {
    if (!reset) return;
    try {
      const body = { reset_id: reset.id };
      if (reset.adjustable_pace) body.breaths_per_min = Number(byId('pace').value);
      const answer = await api.post('/api/resets/start', body);
      const timeline = findTimeline(answer);
      if (timeline) this.showPacer(this.resetFrom(answer.reset ?? reset) ?? reset, timeline, answer.t_s);
      if (this.ratingBefore !== null) await this.rate('before', this.ratingBefore, reset.id);
    } catch (error) {
      setText(this.el.suggestionReason, `The reset could not start: ${error.message}`);
    }
  }

  /** Clear the after card's numbers: a new reset's card shows only what is measured for it. */
  clearEffect() {
    clear(this.el.effectBody);
    this.el.effectTable.hidden = true;
    this.el.effectTable.dataset.resetId = '';
    byId('effect-settle').hidden = true;
    setText(byId('effect-settle'), '');
    setText(byId('effect-note'), EFFECT_PENDING);
  }

  showPacer(reset, timeline, startS = null) {
    this.activeReset = { ...reset, id: reset.id ?? timeline.reset_id };
    this.lastResetId = this.activeReset.id;
    this.resetStartS = num(startS);
    this.clearEffect();
    this.el.suggestion.hidden = true;
    this.el.afterCard.hidden = true;
    setText(byId('after-title'), 'How was that?');
    for (const b of document.querySelectorAll('#rating-after button')) b.setAttribute('aria-pressed', 'false');
    setText(this.el.pacerTitle, reset.title ?? reset.short_name ?? 'Reset');
    this.el.pacerCard.hidden = false;
    this.el.pacerCard.dataset.resetId = this.activeReset.id ?? '';
    const hadFocus = document.activeElement;
    this.cancelCountdown(false);
    this.showPacePicker(this.activeReset, timeline);
    // The demo ends a reset after DEMO_RESET_S (a real one runs its whole length).
    // From the reset's own start (Unix s, as its timeline says), so every tab agrees.
    const startedUnixS = num(timeline.origin_s) ?? num(timeline.start_s) ?? Date.now() / 1000;
    this.pacer.cutS = this.demo ? Math.min(timeline.end_s ?? Infinity, startedUnixS + DEMO_RESET_S) : null;
    this.pacer.cutNote = this.demo ? ' (shortened for the demo)' : '';
    this.pacer.start(timeline);
    byId('follow').hidden = !(timeline.pattern?.phases?.length);
    setText(byId('follow-words'), followWords(null, null));
    byId('follow-fill').style.width = '0%';
    this.applyFocus();
    this.onRunning(true);
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
      // 409: the server runs no reset (it ended in another window): a known state, not a fault.
      if (error.status !== 409) console.info('afterbeat: stop not recorded:', error.message);
    } finally {
      this.stopping = false;
    }
    this.finishResetView();
  }

  finishResetView() {
    this.pacer.stop();
    this.activeReset = null;
    resetEnd.ended(num(this.lastT));
    this.applyFocus();
    this.onRunning(false);
    const hadFocus = this.el.pacerCard.contains(document.activeElement);
    this.el.pacerCard.hidden = true;
    // Say plainly when no numbers can come (nothing arrives); otherwise they fill in later.
    if (this.el.effectTable.hidden) setText(byId('effect-note'), this.sourceEnded ? EFFECT_NO_DATA : EFFECT_PENDING);
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
    const running = byId('pacer-pace');
    for (const value of PACES) {
      const inhale = (60 / value) * 0.4;
      const s = (x) => x.toFixed(1).replace(/\.0$/, '');
      const words = `${value} a minute: in ${s(inhale)} s, out ${s(60 / value - inhale)} s`;
      pace.append(h('option', { value: String(value) }, value === 6 ? `${words} (usual)` : words));
      running.append(h('option', { value: String(value) }, value === 6 ? `${words} (usual)` : words));
    }
    pace.value = '6';
    pace.addEventListener('change', () => settings.update({ breaths_per_min: Number(pace.value) }));
    running.addEventListener('change', () => this.changePace(Number(running.value)));
  }

  /** During a resonance reset: the new pace from now on, the breath carrying on (PUT /api/resets/pace). */
  async changePace(breathsPerMin) {
    const status = byId('pacer-pace-status');
    try {
      const answer = await api.put('/api/resets/pace', { breaths_per_min: breathsPerMin });
      const timeline = findTimeline(answer);
      if (timeline && this.activeReset) this.pacer.start(timeline);
      setText(status, '');
      settings.update({ breaths_per_min: breathsPerMin });
    } catch (error) {
      setText(status, `Pace not changed: ${error.message}`);
    }
  }

  /** The pace chooser in the pacer card: shown for resonance breathing, set from the timeline. */
  showPacePicker(reset, timeline) {
    const box = byId('pacer-pace-box');
    box.hidden = !reset.adjustable_pace;
    const cycle = Number(timeline?.pattern?.cycle_s);
    if (!box.hidden && cycle > 0) {
      const pace = Math.round((60 / cycle) * 2) / 2;
      if (PACES.includes(pace)) byId('pacer-pace').value = String(pace);
    }
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
