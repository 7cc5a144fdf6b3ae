// History: the list of recordings and the per-session report.

import { api } from './api.js';
import { TimeChart } from './chart.js';
import { byId, clear, dateText, durationText, fmt, h, MARK_WORDS, markerItem, sessionMinutesText, setText, settledMeans, settledWhen, settleWords, spanText } from './dom.js';

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const STATUS_WORDS = { recording: 'recording now', complete: 'complete', interrupted: 'ended unexpectedly' };

export class HistoryView {
  constructor() {
    this.list = byId('session-list');
    this.empty = byId('session-empty');
  }

  async show() {
    let sessions = [];
    try {
      const data = await api.get('/api/sessions');
      sessions = Array.isArray(data) ? data : [];
    } catch (error) {
      clear(this.list);
      this.list.append(h('li', { class: 'muted' }, `Could not load the recordings: ${error.message}`));
      return;
    }
    clear(this.list);
    this.empty.hidden = sessions.length > 0;
    for (const s of sessions) {
      const id = s.id ?? s.session_id;
      const started = s.started_at ?? s.start;
      const status = STATUS_WORDS[s.status] ?? s.status ?? '';
      this.list.append(h('li', {},
        h('a', { href: `#/session/${encodeURIComponent(id)}`, class: 'session-link', dataset: { sessionId: String(id) } },
          h('span', { class: 'session-date' }, started ? dateText(started) : `Recording ${id}`),
          h('span', { class: 'session-meta' }, [durationText(num(s.duration_s)), status, String(s.device_name || s.source || '')].filter(Boolean).join(' · ')))));
    }
  }
}

export class ReportView {
  constructor({ onDeleted, titleFor }) {
    this.onDeleted = onDeleted;
    this.titleFor = titleFor ?? (() => null);
    this.el = {
      title: byId('report-title'),
      meta: byId('report-meta'),
      recovery: byId('report-recovery'),
      resets: byId('report-resets'),
      markers: byId('report-markers'),
      exportLink: byId('report-export'),
      del: byId('report-delete'),
    };
    this.hr = new TimeChart(byId('report-hr'), { color: '--chart-hr', minSpan: 12, xLabels: 'session', maxGapS: 60 });
    this.rmssd = new TimeChart(byId('report-rmssd'), { color: '--chart-rmssd', minSpan: 15, xLabels: 'session', maxGapS: 60, floorZero: true });
    this.id = null;
    this.el.del.addEventListener('click', () => this.erase());
    // The export needs the token header, so it is fetched rather than followed as a link.
    this.el.exportLink.addEventListener('click', (event) => {
      event.preventDefault();
      if (this.id === null) return;
      api.download(`/api/sessions/${encodeURIComponent(this.id)}/export`, `afterbeat-session-${this.id}.jsonl`)
        .catch((error) => console.info('afterbeat: export failed:', error.message));
    });
  }

  async show(id) {
    this.id = id;
    setText(this.el.title, 'Session');
    setText(this.el.meta, 'Loading…');
    let report;
    let summary = {};
    try {
      [report, summary] = await Promise.all([
        api.get(`/api/sessions/${encodeURIComponent(id)}/report`),
        api.get(`/api/sessions/${encodeURIComponent(id)}`).catch(() => ({})),
      ]);
    } catch (error) {
      setText(this.el.meta, `Could not load this recording: ${error.message}`);
      return;
    }
    report = report ?? {};
    const info = { ...(summary ?? {}), ...(report.session ?? {}) };
    const started = info.started_at ?? report.started_at;
    setText(this.el.title, started ? dateText(started) : `Session ${id}`);
    setText(this.el.meta, [durationText(num(info.duration_s ?? report.duration_s)), STATUS_WORDS[info.status] ?? info.status].filter(Boolean).join(' · '));

    const rows = seriesRows(report.series ?? {});
    this.hr.setPoints(rows.map((r) => [num(r.t_s), num(r.heart_rate_bpm)]));
    this.rmssd.setPoints(rows.map((r) => [num(r.t_s), num(r.rmssd_ms)]));
    byId('report-hr').dataset.points = String(rows.length);

    const markers = report.markers ?? [];
    const spans = periods(markers, report.duration_s);
    for (const gap of report.gaps ?? []) {
      // The strap was out of reach: no data, and nothing is drawn across it.
      spans.push({ t0: num(gap.start_t_s), t1: num(gap.end_t_s), label: 'no signal', color: 'rgba(120, 120, 120, 0.10)' });
    }
    const lone = markers.filter((m) => ['note', 'moving_start', 'moving_end'].includes(m.kind)
      || (m.kind.endsWith('_start') && !spans.some((s) => s.t0 === m.t_s))
      || (m.kind.endsWith('_end') && !spans.some((s) => s.t1 === m.t_s)))
      .filter((m) => m.kind !== 'rating')
      .map((m) => ({ t: num(m.t_s), label: m.kind === 'note' ? 'note' : (MARK_WORDS[m.kind] ?? m.kind) }));
    this.hr.setSpans(spans);
    this.rmssd.setSpans(spans.map((s) => ({ ...s, label: '' })));
    this.hr.setMarks(lone);
    this.rmssd.setMarks(lone.map((m) => ({ t: m.t, label: '' })));
    const baseline = report.baseline ?? this.baseline ?? null;
    if (baseline) {
      const hr = num(baseline.heart_rate_bpm);
      const sd = num(baseline.heart_rate_spread_bpm) ?? 3;
      if (hr !== null) this.hr.setBand(hr - sd, hr + sd);
      const lnR = num(baseline.ln_rmssd);
      const lnSd = num(baseline.ln_rmssd_spread) ?? 0.15;
      if (lnR !== null) this.rmssd.setBand(Math.exp(lnR - lnSd), Math.exp(lnR + lnSd));
    }

    clear(this.el.markers);
    for (const m of markers) this.el.markers.append(markerItem(m, this.titleFor));
    if (!markers.length) this.el.markers.append(h('li', { class: 'muted' }, 'No marks.'));

    renderRecovery(this.el.recovery, report.recovery ?? {});
    clear(this.el.resets);
    const resets = report.resets ?? [];
    for (const r of resets) this.el.resets.append(resetItem(r, this.titleFor));
    if (!resets.length) this.el.resets.append(h('li', { class: 'muted' }, 'No resets in this recording.'));
  }

  async erase() {
    if (this.id === null) return;
    // A plain confirm keeps this keyboard reachable and impossible to trigger by accident.
    if (!window.confirm('Erase this recording from this computer? This cannot be undone.')) return;
    try {
      await api.del(`/api/sessions/${encodeURIComponent(this.id)}`);
      this.onDeleted();
    } catch (error) {
      setText(this.el.meta, `Could not erase: ${error.message}`);
    }
  }
}

const PERIOD_WORDS = { baseline: 'Baseline', session: 'Session', reset: 'Reset', moving: 'Moving' };
const PERIOD_COLORS = {
  baseline: 'rgba(120, 120, 110, 0.08)',
  session: 'rgba(106, 111, 168, 0.10)',
  reset: 'rgba(201, 164, 106, 0.14)',
};

/** Start/end marker pairs as shaded periods (baseline, session, resets). */
function periods(markers, durationS) {
  const open = {};
  const spans = [];
  for (const m of markers) {
    const match = /^(baseline|session|reset)_(start|end)$/.exec(String(m.kind));
    if (!match || num(m.t_s) === null) continue;
    const [, what, edge] = match;
    if (edge === 'start') open[what] = m.t_s;
    else if (open[what] !== undefined) {
      spans.push({ t0: open[what], t1: m.t_s, label: PERIOD_WORDS[what], color: PERIOD_COLORS[what] });
      delete open[what];
    }
  }
  for (const [what, t0] of Object.entries(open)) {
    if (num(durationS) !== null && durationS > t0) spans.push({ t0, t1: durationS, label: PERIOD_WORDS[what], color: PERIOD_COLORS[what] });
  }
  return spans;
}

function seriesRows(series) {
  // Column form {t_s: [...], heart_rate_bpm: [...], rmssd_ms: [...]} → rows.
  const t = series.t_s ?? [];
  return t.map((tS, i) => ({ t_s: tS, heart_rate_bpm: series.heart_rate_bpm?.[i], rmssd_ms: series.rmssd_ms?.[i] }));
}

const RECOVERY_LABELS = [
  ['time_to_settle_s', 'Settled', (v) => settledWhen(v, 'the session ended')],
  ['heart_rate_half_recovery_s', 'Heart rate halfway back to usual', (v) => `${durationText(v)} after the session ended`],
  ['heart_rate_residual_bpm', 'Heart rate still above usual', (v) => `${fmt(v)} bpm (lower is closer to usual)`],
  ['ln_rmssd_recovered_share_10min', 'Heart-rate variability back toward usual, 10 min after', (v) => `${fmt(v * 100)}% of the way (higher is closer)`],
];

/** Recovery metrics of the last session end in the recording (afterbeat.recovery). */
function renderRecovery(dl, recoveries) {
  clear(dl);
  const list = Array.isArray(recoveries) ? recoveries : [recoveries];
  const recovery = list.length ? list[list.length - 1] ?? {} : {};
  if (recovery.settled_within_grace === true) {
    const grace = num(recovery.grace_s);
    const within = grace === null ? 'the quiet watch' : `the first ${spanText(grace)}`;
    dl.append(h('div', { class: 'wide' }, h('dd', {}, `You settled within ${within} after the session.`)));
  }
  // The definition under the report is the rule this session's result was judged by.
  const definition = dl.parentElement?.querySelector('.settle-definition');
  if (definition) {
    definition.dataset.ownRule = 'true';
    setText(definition, settledMeans(num(recovery.settle_hold_s)));
  }
  for (const [key, label, format] of RECOVERY_LABELS) {
    const v = num(recovery[key]);
    if (v === null) continue;
    dl.append(h('div', {}, h('dt', {}, label), h('dd', {}, format(v))));
  }
  if (!dl.children.length) dl.append(h('div', { class: 'wide' }, h('dd', { class: 'muted' }, 'No session end marked, or not enough data after it.')));
}

function resetItem(r, titleFor) {
  const title = titleFor(r.reset_id) ?? r.reset_id ?? 'Reset';
  const before = r.before ?? {};
  const after = r.after ?? {};
  const parts = [];
  const pair = (label, a, b, unit, direction) => {
    if (num(a) === null && num(b) === null) return;
    parts.push(`${label} ${fmt(num(a))} → ${fmt(num(b))}${unit} (${direction})`);
  };
  pair('Heart rate', before.heart_rate_bpm, after.heart_rate_bpm, ' bpm', 'lower usually means calmer');
  pair('Heart-rate variability', before.rmssd_ms, after.rmssd_ms, ' ms', 'higher usually means more relaxed');
  pair('Stirred up', r.rating_before, r.rating_after, ' of 10', 'lower means calmer');
  const settled = settleWords(r);
  if (settled) parts.push(settled);
  const when = num(r.start_t_s ?? r.t_s);
  return h('li', {},
    h('strong', {}, String(title)),
    when !== null ? h('span', { class: 'muted' }, `, ${sessionMinutesText(when)}`) : null,
    parts.length ? parts.map((part) => h('div', { class: 'small' }, part)) : h('div', { class: 'small muted' }, 'No before-and-after numbers.'));
}
