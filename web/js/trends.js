// Trends across sessions, the learned summary, and the gentle therapist hint.

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
    this.settle = new TimeChart(byId('trend-settle'), { color: '#3f7f7a', minSpan: 5, xLabels: 'index', dots: true, maxGapS: 0, yMin: 0, indexLabel });
    this.ratings = new TimeChart(byId('trend-ratings'), { color: '#6a6fa8', minSpan: 4, xLabels: 'index', dots: true, maxGapS: 0, yMin: 0, indexLabel });
  }

  async show() {
    let data;
    try {
      data = (await api.get('/api/trends')) ?? {};
    } catch (error) {
      setText(this.summary, `Could not load trends: ${error.message}`);
      return;
    }
    const summary = data.summary ?? data.learned_summary ?? data.text;
    const lines = Array.isArray(summary) ? summary : (Array.isArray(data.lines) ? data.lines : []);
    setText(this.summary, typeof summary === 'string' && summary ? summary
      : (lines.length ? 'What afterbeat has noticed so far:' : 'Trends appear after a few sessions with resets.'));
    clear(this.lines);
    for (const line of lines) this.lines.append(h('li', {}, typeof line === 'string' ? line : String(line.text ?? '')));

    const sessions = data.sessions ?? data.points ?? data.time_to_settle ?? [];
    const settle = [];
    const ratings = [];
    sessions.forEach((s, i) => {
      const x = i + 1;
      const minutes = num(s.time_to_settle_min) ?? (num(s.time_to_settle_s) !== null ? s.time_to_settle_s / 60 : null) ?? (num(s) !== null ? s / 60 : null);
      settle.push([x, minutes]);
      const rating = num(s.rating) ?? num(s.rating_before) ?? num(s.mean_rating);
      ratings.push([x, rating]);
    });
    this.settle.setPoints(settle);
    this.ratings.setPoints(ratings);

    const hint = data.hint ?? data.therapist_hint;
    clear(this.hint);
    if (hint) {
      const text = typeof hint === 'string' ? hint : (hint.text ?? hint.message ?? '');
      const contact = typeof hint === 'object' ? (hint.contact ?? hint.contact_text ?? '') : '';
      this.hint.append(h('h2', {}, 'Something to bring to your therapist'), h('p', {}, text));
      if (contact) this.hint.append(h('p', {}, contact));
      this.hint.hidden = !text && !contact;
    } else {
      this.hint.hidden = true;
    }
  }
}
