// The pacer: phase from the clock (never from frame counts), drawn as an expanding and
// contracting shape with words and a countdown; optional sound and vibration cues.
//
// phaseAt mirrors afterbeat.pacing.phase_at exactly (see that module's docstring):
//   cycle_s = sum of durations; elapsed = max(0, t - start_s); k = floor(elapsed / cycle_s)
//   pos = elapsed - k * cycle_s; i = first phase with pos < offset_i + duration_i (else last)
//   progress = (pos - offset_i) / duration_i; remaining = offset_i + duration_i - pos
//   cycle = cycle_base + k; finished = end_s !== null && t >= end_s

import { byId, clockText, setText } from './dom.js';
import { settings } from './settings.js';

const WORDS = { inhale: 'Breathe in', hold: 'Hold', exhale: 'Breathe out' };
const SCALE_MIN = 0.52;
const SCALE_MAX = 1.0;

/** Seconds on the timeline's clock now ("unix": Date.now() / 1000). */
export function clockNowS(timeline, sessionNowS) {
  if (timeline.clock === 'session' && typeof sessionNowS === 'function') return sessionNowS();
  return Date.now() / 1000;
}

/** The pacer's state at clock time tS (s), exactly as afterbeat.pacing.phase_at. */
export function phaseAt(timeline, tS) {
  const phases = timeline.pattern.phases;
  const cycleS = phases.reduce((sum, p) => sum + p.duration_s, 0);
  const elapsedS = Math.max(0, tS - timeline.start_s);
  let k = Math.floor(elapsedS / cycleS);
  let posS = elapsedS - k * cycleS;
  if (posS >= cycleS) { k += 1; posS = 0; }
  let offsetS = 0;
  let index = phases.length - 1;
  for (let i = 0; i < phases.length; i += 1) {
    if (posS < offsetS + phases[i].duration_s || i === phases.length - 1) { index = i; break; }
    offsetS += phases[i].duration_s;
  }
  const phase = phases[index];
  return {
    phase,
    index,
    progress: Math.min(1, Math.max(0, (posS - offsetS) / phase.duration_s)),
    remainingS: Math.max(0, offsetS + phase.duration_s - posS),
    cycle: (timeline.cycle_base ?? 0) + k,
    elapsedS: Math.max(0, tS - (timeline.origin_s ?? timeline.start_s)),
    finished: timeline.end_s !== null && timeline.end_s !== undefined && tS >= timeline.end_s,
  };
}

/** The latest prompt due at tS, or null (prompts count from origin_s). */
export function promptAt(timeline, tS) {
  const since = tS - (timeline.origin_s ?? timeline.start_s);
  let current = null;
  for (const prompt of timeline.prompts ?? []) {
    if (prompt.offset_s <= since) current = prompt;
    else break;
  }
  return current;
}

/**
 * Phase starts after tS and up to tS + horizonS: [{atS, cycle, index, phase}], by the same
 * arithmetic as phaseAt (sound cues are scheduled ahead on these, so they stay on time in a
 * background tab where timers are slowed down).
 */
export function upcomingPhases(timeline, tS, horizonS) {
  const phases = timeline.pattern.phases;
  const state = phaseAt(timeline, tS);
  const out = [];
  let atS = tS + state.remainingS;
  let index = state.index;
  let cycle = state.cycle;
  const endS = timeline.end_s ?? Infinity;
  while (atS <= tS + horizonS && atS < endS && out.length < 64) {
    index += 1;
    if (index === phases.length) { index = 0; cycle += 1; }
    out.push({ atS, cycle, index, phase: phases[index] });
    atS += phases[index].duration_s;
  }
  return out;
}

/**
 * How far (0-1) through the breath a phase state is: a run of same-direction phases counts as
 * one breath (cyclic sighing's "breathe in" + "a little more in" is one growing shape).
 */
export function breathFraction(timeline, state) {
  const phases = timeline.pattern.phases;
  const dir = state.phase.direction;
  let first = state.index;
  while (first > 0 && phases[first - 1].direction === dir) first -= 1;
  let last = state.index;
  while (last < phases.length - 1 && phases[last + 1].direction === dir) last += 1;
  let runS = 0;
  let intoS = state.progress * state.phase.duration_s;
  for (let i = first; i <= last; i += 1) {
    runS += phases[i].duration_s;
    if (i < state.index) intoS += phases[i].duration_s;
  }
  return Math.min(1, intoS / runS);
}

/** Shape scale (SCALE_MIN..SCALE_MAX) for a phase state: eased growth on inhale, shrink on exhale. */
export function shapeScale(timeline, state) {
  const ease = (p) => 0.5 - 0.5 * Math.cos(Math.PI * p);
  const dir = state.phase.direction;
  const fraction = dir === 'hold' ? 0 : breathFraction(timeline, state);
  if (dir === 'inhale') return SCALE_MIN + (SCALE_MAX - SCALE_MIN) * ease(fraction);
  if (dir === 'exhale') return SCALE_MAX - (SCALE_MAX - SCALE_MIN) * ease(fraction);
  // hold: stay where the previous breath left the shape
  const phases = timeline.pattern.phases;
  for (let step = 1; step <= phases.length; step += 1) {
    const d = phases[(state.index - step + phases.length) % phases.length].direction;
    if (d === 'inhale') return SCALE_MAX;
    if (d === 'exhale') return SCALE_MIN;
  }
  return (SCALE_MIN + SCALE_MAX) / 2;
}

/** Words for a phase: its own name from the library ("A little more in"), else by direction. */
export function phaseWords(phase) {
  return typeof phase.name === 'string' && phase.name.trim() ? phase.name : (WORDS[phase.direction] ?? '');
}

/** Gentle audio cues made with Web Audio (created only after the person opts in). */
class Cues {
  constructor() {
    this.context = null;
  }

  enable() {
    if (!this.context) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return false;
      this.context = new Ctx();
    }
    if (this.context.state === 'suspended') this.context.resume();
    return true;
  }

  /** Audio-clock time (s) of a Unix time (s). */
  audioTimeOf(unixS) {
    return this.context.currentTime + (unixS - Date.now() / 1000);
  }

  /** A soft tone over durationS from Unix time atS (now if omitted): rising on inhale,
   *  falling on exhale, silent on hold. */
  tone(direction, durationS, atS) {
    const ctx = this.context;
    if (!ctx || direction === 'hold') return;
    const length = Math.max(0.4, Math.min(durationS, 6));
    const t0 = Math.max(ctx.currentTime + 0.01, atS === undefined ? 0 : this.audioTimeOf(atS));
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    const [from, to] = direction === 'inhale' ? [196, 294] : [294, 196];
    osc.frequency.setValueAtTime(from, t0);
    osc.frequency.linearRampToValueAtTime(to, t0 + length);
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.08, t0 + Math.min(0.4, length / 3));
    gain.gain.setValueAtTime(0.08, t0 + length * 0.7);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + length + 0.05);
  }
}

/** The pacer view: owns the pacer and movement elements of the reset card. */
export class PacerView {
  constructor({ sessionNowS, onFinished } = {}) {
    this.sessionNowS = sessionNowS;
    this.onFinished = onFinished;
    this.timeline = null;
    this.el = {
      root: byId('pacer'),
      shape: byId('pacer-shape'),
      phase: byId('pacer-phase'),
      count: byId('pacer-count'),
      announce: byId('pacer-announce'),
      movement: byId('movement'),
      movementTime: byId('movement-time'),
      movementPrompt: byId('movement-prompt'),
      movementFill: byId('movement-fill'),
      prompt: byId('pacer-prompt'),
      total: byId('pacer-total'),
      audio: byId('opt-audio'),
      vibrate: byId('opt-vibrate'),
    };
    this.cues = new Cues();
    this.lastKey = '';
    this.finishedSent = false;
    this.cutS = null; // an earlier end (Unix s) than the timeline's: the demo's shorter reset
    this.cutNote = '';
    this.reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
    this.cueCount = 0;
    this.scheduled = new Set(); // "cycle:index" of tones already handed to the audio clock
    this.el.vibrate.disabled = typeof navigator.vibrate !== 'function';
    settings.onChange((values) => {
      this.el.audio.checked = Boolean(values.audio_cues);
      this.el.vibrate.checked = Boolean(values.vibration) && !this.el.vibrate.disabled;
    });
    // Opt-in only; the AudioContext is made inside this click, as browsers require.
    this.el.audio.addEventListener('change', () => {
      if (this.el.audio.checked && !this.cues.enable()) this.el.audio.checked = false;
      settings.update({ audio_cues: this.el.audio.checked });
    });
    this.el.vibrate.addEventListener('change', () => {
      settings.update({ vibration: this.el.vibrate.checked });
    });
    this.tick = this.tick.bind(this);
    // rAF for smooth drawing while visible; a timer keeps the state (and cues) right otherwise.
    this.timer = setInterval(() => { if (this.timeline) this.tick(); }, 100);
  }

  /** Start (or change) pacing from a timeline JSON as sent by the server. */
  start(timeline) {
    this.timeline = timeline;
    this.finishedSent = false;
    this.lastKey = '';
    this.scheduled.clear();
    if (this.el.audio.checked) this.cues.enable();
    const paced = Boolean(timeline.pattern && timeline.pattern.phases && timeline.pattern.phases.length);
    this.el.root.hidden = !paced;
    this.el.movement.hidden = paced;
    this.lastPrompt = undefined;
    this.el.root.dataset.startS = String(timeline.start_s);
    this.el.root.dataset.clock = String(timeline.clock ?? 'unix');
    this.el.root.dataset.motion = this.reducedMotion.matches ? 'reduced' : 'full';
    this.tick();
    if (!this.frame) this.frame = requestAnimationFrame(this.loop.bind(this));
  }

  stop() {
    this.timeline = null;
    this.el.root.dataset.phase = '';
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  loop() {
    this.frame = 0;
    if (!this.timeline) return;
    this.tick();
    this.frame = requestAnimationFrame(this.loop.bind(this));
  }

  tick() {
    const timeline = this.timeline;
    if (!timeline) return;
    const nowS = clockNowS(timeline, this.sessionNowS);
    const origin = timeline.origin_s ?? timeline.start_s;
    const endS = this.endS(timeline);
    if (!this.el.movement.hidden) {
      setText(this.el.total, this.cutNote.trim()); // the timer shows the time left
    } else if (endS !== null) {
      setText(this.el.total, `${clockText(endS - nowS)} left of this reset${this.cutNote}`);
    } else {
      setText(this.el.total, `${clockText(nowS - origin)} so far`);
    }
    if (timeline.pattern && timeline.pattern.phases && timeline.pattern.phases.length) {
      this.drawBreath(timeline, nowS);
      const prompt = promptAt(timeline, nowS);
      setText(this.el.prompt, prompt ? prompt.text : '');
    }
    if (!this.el.movement.hidden) this.drawMovement(timeline, nowS);
    const finished = endS !== null && nowS >= endS;
    if (finished && !this.finishedSent) {
      this.finishedSent = true;
      if (this.onFinished) this.onFinished();
    }
  }

  drawBreath(timeline, nowS) {
    const state = phaseAt(timeline, nowS);
    const root = this.el.root;
    root.dataset.phase = state.phase.direction;
    root.dataset.phaseName = state.phase.name;
    root.dataset.phaseIndex = String(state.index);
    root.dataset.progress = state.progress.toFixed(4);
    root.dataset.remainingS = state.remainingS.toFixed(3);
    root.dataset.cycle = String(state.cycle);
    root.dataset.nowS = nowS.toFixed(3);
    setText(this.el.phase, phaseWords(state.phase));
    setText(this.el.count, String(Math.max(1, Math.ceil(state.remainingS - 1e-6))));
    const reduced = this.reducedMotion.matches;
    root.dataset.motion = reduced ? 'reduced' : 'full';
    this.el.shape.style.transform = reduced ? 'none' : `scale(${shapeScale(timeline, state).toFixed(4)})`;
    const key = `${state.cycle}:${state.index}`;
    if (key !== this.lastKey) {
      const first = this.lastKey === '';
      this.lastKey = key;
      setText(this.el.announce, phaseWords(state.phase));
      if (!first || state.progress < 0.1) this.cue(state, first);
    }
    this.scheduleTones(timeline, nowS);
  }

  /** Hand the next few seconds of tones to the audio clock, each at its phase start. */
  scheduleTones(timeline, nowS) {
    if (!this.el.audio.checked || !this.cues.context) return;
    let next = null;
    for (const item of upcomingPhases(timeline, nowS, 6)) {
      const key = `${item.cycle}:${item.index}`;
      if (this.scheduled.has(key) || item.phase.direction === 'hold') continue;
      this.scheduled.add(key);
      this.cues.tone(item.phase.direction, item.phase.duration_s, item.atS);
      this.cueCount += 1;
      next = next === null ? item.atS : Math.min(next, item.atS);
    }
    if (next !== null) {
      this.el.root.dataset.cues = String(this.cueCount);
      this.el.root.dataset.nextCueS = next.toFixed(3);
    }
    if (this.scheduled.size > 200) this.scheduled = new Set([...this.scheduled].slice(-50));
  }

  cue(state, first) {
    // The very first phase was not scheduled ahead: sound it now (later ones are scheduled).
    if (first && this.el.audio.checked && this.cues.context && state.phase.direction !== 'hold') {
      this.scheduled.add(`${state.cycle}:${state.index}`);
      this.cues.tone(state.phase.direction, state.remainingS);
    }
    if (this.el.vibrate.checked && typeof navigator.vibrate === 'function') {
      navigator.vibrate(state.phase.direction === 'hold' ? 30 : 70);
    }
  }

  /** When this reset ends on the clock (s): the timeline's end, or the earlier cut; null if open. */
  endS(timeline) {
    const end = timeline.end_s !== null && timeline.end_s !== undefined ? timeline.end_s : null;
    if (this.cutS === null || !Number.isFinite(this.cutS)) return end;
    return end === null ? this.cutS : Math.min(end, this.cutS);
  }

  drawMovement(timeline, nowS) {
    const origin = timeline.origin_s ?? timeline.start_s;
    const elapsed = Math.max(0, nowS - origin);
    const end = this.endS(timeline);
    const total = end !== null && end !== undefined ? end - origin : null;
    setText(this.el.movementTime, total ? clockText(total - elapsed) : clockText(elapsed));
    const prompt = promptAt(timeline, nowS);
    setText(this.el.movementPrompt, prompt ? prompt.text : '');
    const index = prompt ? (timeline.prompts ?? []).indexOf(prompt) : -1;
    this.el.movement.dataset.elapsedS = elapsed.toFixed(3);
    this.el.movement.dataset.promptIndex = String(index);
    this.el.movementFill.style.width = total ? `${Math.min(100, (elapsed / total) * 100).toFixed(1)}%` : '0%';
    if (String(index) !== this.lastPrompt) {
      if (this.lastPrompt !== undefined && this.el.vibrate.checked && typeof navigator.vibrate === 'function') navigator.vibrate(80);
      this.lastPrompt = String(index);
    }
  }
}
