// Small DOM helpers. Text always goes in as text nodes (textContent), never as markup.

/** Element by id; throws early if the page and the script disagree. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

/** Create an element with attributes and text or child nodes (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Set an element's text (textContent only). */
export function setText(el, text) {
  const value = text === undefined || text === null ? '' : String(text);
  if (el.textContent !== value) el.textContent = value;
}

/** Remove all children of an element. */
export function clear(el) {
  el.replaceChildren();
}

/** Format a number with a fixed count of decimals, or a dash when missing. */
export function fmt(value, decimals = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(decimals) : '—';
}

/** "m:ss" for a count of seconds (rounded up, never negative). */
export function clockText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A human duration ("12 min", "1 h 05 min") for a count of seconds. */
export function durationText(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** Local date and time for a Unix time in seconds or an ISO string. */
export function dateText(value) {
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return '—';
  return date.toLocaleString(undefined, {
    weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
  });
}

/** A stretch's length (s) in words, as the server's watch says it: "2 minutes", "1 minute",
 *  "30 seconds". */
export function spanText(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} seconds`;
  const minutes = Math.floor(seconds / 60 + 0.5);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** The one definition of settling, said the same way wherever a settling time is shown
 *  (the watch, a reset's effect, the report and the trends all use this rule and timing:
 *  afterbeat.activation.settling). ``holdS`` is the rule in force (s), sent by the server
 *  with the status and with each result, since a plan may change it; null when unknown. */
export function settledMeans(holdS) {
  const hold = typeof holdS === 'number' && Number.isFinite(holdS) && holdS > 0 ? spanText(holdS) : null;
  if (hold === null) {
    return 'Settled means your readings stayed close to your usual for the stretch your plan sets '
      + '(2 minutes unless your plan changes it; short gaps allowed); the time shown is when that stretch began.';
  }
  return `Settled means your readings stayed close to your usual for ${hold} `
    + `(short gaps in the readings allowed); the time shown is when those ${hold} began.`;
}

/** When settling began, after an event ("the session ended", "the reset began"), in whole
 *  minutes: the index itself smooths over a minute or two, so nothing finer is claimed. */
export function settledWhen(seconds, after) {
  if (seconds < 60) return `within the first minute after ${after}`;
  return `about ${durationText(seconds)} after ${after}`;
}

/** Minutes on the session clock as words: "21 min into the recording" (never clock-like). */
export function sessionMinutesText(tS, long = true) {
  if (typeof tS !== 'number' || !Number.isFinite(tS)) return '';
  const minutes = Math.max(0, Math.floor(tS / 60));
  const amount = minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return long ? `${amount} into the recording` : `${amount} in`;
}

/** A reset's settling in the same words as the after card (settledMeans is the rule). */
export function settleWords(effect) {
  const settleS = typeof effect.settle_s === 'number' && Number.isFinite(effect.settle_s) ? effect.settle_s : null;
  if (settleS === null) return '';
  if (effect.started_activated === false) return 'Already close to your usual when it began.';
  return `Settled ${settledWhen(settleS, 'the reset began')}.`;
}

/** Words for a marker kind. */
export const MARK_WORDS = {
  baseline_start: 'Baseline started',
  baseline_end: 'Baseline ended',
  session_start: 'Session started',
  session_end: 'Session ended',
  reset_start: 'Reset started',
  reset_end: 'Reset ended',
  moving_start: 'Moving',
  moving_end: 'Stopped moving',
  note: 'Note',
  rating: 'Rating',
  dismiss: 'Not now',
  plan: 'Plan updated',
  pace: 'Breathing pace changed',
  resonance_block_start: 'Pace block started',
  resonance_block_end: 'Pace block ended',
};

/**
 * One marker as a list item: time, words, and what the person typed (as text, never HTML).
 * Reset markers carry the reset's id and ratings "before:<id>"; titleFor names the reset.
 */
export function markerItem(m, titleFor = () => null) {
  const kind = String(m.kind ?? 'note');
  const typed = typeof m.text === 'string' ? m.text : '';
  let detail = '';
  if (kind === 'note') detail = typed;
  else if (kind === 'reset_start' || kind === 'reset_end') detail = titleFor(typed) ?? typed;
  else if (kind === 'rating' && typeof m.value === 'number') {
    const when = typed.split(':')[0];
    detail = `${m.value} of 10${when === 'before' || when === 'after' ? ` (${when} a reset)` : ''}`;
  } else if (kind.startsWith('resonance_') || kind === 'pace') {
    detail = typeof m.value === 'number' ? `${m.value} breaths a minute` : '';
  } else if (typed && kind !== 'plan') detail = typed;
  return h('li', { dataset: { kind } },
    h('span', { class: 'mark-time' }, sessionMinutesText(typeof m.t_s === 'number' ? m.t_s : NaN, false)),
    h('span', { class: 'mark-kind' }, MARK_WORDS[kind] ?? kind),
    detail ? h('span', { class: 'mark-text' }, detail) : null);
}

/** Session clock seconds as "h:mm:ss" or "m:ss". */
export function sessionTimeText(tS) {
  if (typeof tS !== 'number' || !Number.isFinite(tS)) return '';
  const s = Math.max(0, Math.floor(tS));
  const hours = Math.floor(s / 3600);
  const rest = `${String(Math.floor((s % 3600) / 60)).padStart(hours ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return hours ? `${hours}:${rest}` : rest;
}

/** The connection fields of /api/status (its ``connection``) or of a ``status`` event (at
 *  the top level). */
export function connectionOf(status) {
  return status.connection && typeof status.connection === 'object' ? status.connection : status;
}

/** Source states (sources.ConnectionState) after which no beats will come: the recording or
 *  the demo has ended. */
export const SOURCE_ENDED_STATES = new Set(['finished', 'stopped']);
/** Source states in which no beats arrive right now (ended, or waiting on the strap): the one
 *  list for the whole page. */
export const NO_BEATS_STATES = new Set([...SOURCE_ENDED_STATES, 'reconnecting', 'bluetooth_off']);

/** How long after a reset ends (session s) a suggestion is "soon after" it. */
export const SOON_AFTER_RESET_S = 600;

/**
 * When the last reset ended on the session clock, kept once for the whole page (the calm line
 * and the reset card read the same one). A session clock that goes back (a new session while
 * the page stays open) forgets it.
 */
export class ResetEnd {
  constructor() {
    this.endT = null; // session s of the last reset's end, or null
    this.lastT = null; // the latest session s seen
  }

  /** The session clock reads ``tS`` (s): a clock gone back by over a second forgets the end. */
  seen(tS) {
    if (typeof tS !== 'number' || !Number.isFinite(tS)) return;
    if (this.lastT !== null && tS < this.lastT - 1) this.endT = null;
    this.lastT = tS;
  }

  /** A reset ended at session ``tS`` (s; null: the last time seen). */
  ended(tS = null) {
    const t = typeof tS === 'number' && Number.isFinite(tS) ? tS : this.lastT;
    this.endT = t;
  }

  /** True when session ``tS`` (s) is 0 <= tS - end < SOON_AFTER_RESET_S after the last end. */
  soonAfter(tS) {
    const t = typeof tS === 'number' && Number.isFinite(tS) ? tS : this.lastT;
    if (this.endT === null || t === null) return false;
    const sinceS = t - this.endT;
    return sinceS >= 0 && sinceS < SOON_AFTER_RESET_S;
  }
}

/** The page's one record of when the last reset ended. */
export const resetEnd = new ResetEnd();
