// Trends across sessions, the learned summary, and the gentle therapist hint (calm, never urgent).

import { api } from './api.js';
import { TimeChart } from './chart.js';
import { byId, clear, h, setText } from './dom.js';

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** What a trend chart says instead of an empty drawing: what is missing, in plain words. */
export const TREND_EMPTY = {
  noSessions: 'Nothing here yet: this fills in as sessions are recorded.',
  noSettle: 'No time to settle yet: it shows once afterbeat sees you settle after a session whose end you marked.',
  noRatings: 'No ratings yet: rate how stirred up you feel before or after a reset.',
};

/** The message for a chart with `count` values over `sessions` sessions ('' when it has values). */
export function emptyWords(sessions, count, missing) {
  if (count > 0) return '';
  return sessions === 0 ? TREND_EMPTY.noSessions : missing;
}

export class TrendsView {
  constructor() {
    this.summary = byId('trends-summary');
    this.lines = byId('trends-lines');
    this.hint = byId('trends-hint');
    const indexLabel = (i) => `session ${i}`;
    const common = {
      minSpan: 4, xLabels: 'index', dots: true, maxGapS: 0, yMin: 0, indexLabel,
    };
    this.settle = new TimeChart(byId('trend-settle'), { ...common, color: '--chart-hr' });
    this.ratings = new TimeChart(byId('trend-ratings'), { ...common, color: '--chart-rmssd' });
  }

  async show() {
    let data;
    try {
      data = (await api.get('/api/trends')) ?? {};
    } catch (error) {
      setText(this.summary, `Could not load trends: ${error.message}`);
      return;
    }
    // summary: plain-words lines from afterbeat.trends.learned_summary, first one leads.
    const summary = Array.isArray(data.summary) ? data.summary.map(String) : [];
    setText(this.summary, summary[0] ?? 'Trends appear after a few sessions with resets.');
    clear(this.lines);
    for (const line of summary.slice(1)) this.lines.append(h('li', {}, line));

    // one point per session, oldest first
    const sessions = Array.isArray(data.sessions) ? data.sessions : [];
    this.settle.setPoints(sessions.map((s, i) => [i + 1, num(s.time_to_settle_s) === null ? null : s.time_to_settle_s / 60]));
    this.ratings.setPoints(sessions.map((s, i) => [i + 1, num(s.rating_before)]));
    this.ratings.setExtra(sessions.map((s, i) => [i + 1, num(s.rating_after)]), '--chart-after');
    const settled = sessions.filter((s) => num(s.time_to_settle_s) !== null).length;
    const rated = sessions.filter((s) => num(s.rating_before) !== null || num(s.rating_after) !== null).length;
    byId('trend-settle').dataset.points = String(settled);
    // An empty chart is words in the page (they wrap on a phone), not text drawn on the canvas.
    for (const [id, words] of [
      ['trend-settle', emptyWords(sessions.length, settled, TREND_EMPTY.noSettle)],
      ['trend-ratings', emptyWords(sessions.length, rated, TREND_EMPTY.noRatings)],
    ]) {
      byId(id).hidden = Boolean(words);
      setText(byId(`${id}-empty`), words);
      byId(`${id}-empty`).hidden = !words;
    }

    const hint = data.hint;
    clear(this.hint);
    this.hint.hidden = !hint;
    if (hint) {
      this.hint.append(h('h2', {}, 'Something you might bring to your therapist'));
      for (const reason of hint.reasons ?? []) this.hint.append(h('p', {}, String(reason)));
      this.hint.append(h('p', {}, String(hint.text ?? '')));
    }
  }
}
