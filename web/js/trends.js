// Trends across sessions, the learned summary, and the gentle therapist hint (calm, never urgent).

import { api } from './api.js';
import { TimeChart } from './chart.js';
import { byId, clear, h, setText } from './dom.js';

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export class TrendsView {
  constructor() {
    this.summary = byId('trends-summary');
    this.lines = byId('trends-lines');
    this.hint = byId('trends-hint');
    const indexLabel = (i) => `session ${i}`;
    const common = {
      minSpan: 4, xLabels: 'index', dots: true, maxGapS: 0, yMin: 0, indexLabel,
      emptyText: 'Nothing here yet: this fills in as sessions are recorded.',
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
    byId('trend-settle').dataset.points = String(sessions.filter((s) => num(s.time_to_settle_s) !== null).length);

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
