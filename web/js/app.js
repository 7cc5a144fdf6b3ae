// afterbeat dashboard: wires the live stream to the views and routes between them by hash.
//
// Views: #/now (default), #/history, #/session/<id>, #/trends, #/support. Plain ES modules, no
// build step, nothing from outside the server (CSP script-src 'self'); all text set as text.
//
// What the page exposes for tests and tools (data attributes, read-only):
//   #pacer        data-phase (inhale|hold|exhale), data-phase-index, data-progress (0-1),
//                 data-remaining-s, data-cycle, data-now-s (the Unix time these were computed
//                 for), data-start-s, data-motion (full|reduced), data-cues, data-next-cue-s
//   #movement     data-elapsed-s, data-prompt-index
//   #chart-hr, #chart-rmssd, #report-hr   data-points, data-last-t, data-last-value
//   #suggestion   data-reset-id, data-t-s, data-gentle
//   #resonance-run, #resonance-pacer, #resonance-result, #resonance-chart: see resonance.js
//   #marks-list li[data-kind], body[data-live] (open|reconnecting), window.afterbeatLive
//   (.counts and .last by event type; markers also as last.marker_<kind>)

import { api, onSignedOut, signIn } from './api.js';
import { byId, setText } from './dom.js';
import { HistoryView, ReportView } from './history.js';
import { LiveStream } from './live.js';
import { NowView } from './now.js';
import { ResetCards } from './resetcard.js';
import { ResonanceView } from './resonance.js';
import { settings } from './settings.js';
import { PlanFiles, SummaryPanel } from './sharing.js';
import { StatusChips } from './status.js';
import { SupportView } from './support.js';
import { TrendsView } from './trends.js';

const chips = new StatusChips();
const resets = new ResetCards();
const now = new NowView({ titleFor: (id) => resets.titleFor(id) });
now.listen((m) => resets.onMetrics(m));
resets.onRunning = (running) => now.onReset(running);
const history = new HistoryView();
const report = new ReportView({
  onDeleted: () => { location.hash = '#/history'; },
  titleFor: (id) => resets.titleFor(id),
});
const trends = new TrendsView();
const resonance = new ResonanceView();
const support = new SupportView({ library: () => resets.library });
const summaryPanel = new SummaryPanel();
new PlanFiles({
  onApplied: (plan) => {
    support.showPlan(plan, false);
    support.loadLines(plan);
  },
});

function route() {
  const hash = location.hash || '#/now';
  const [, view = 'now', arg] = hash.match(/^#\/([a-z]+)(?:\/(.+))?$/) ?? [];
  const name = view === 'session' ? 'report' : view;
  let found = false;
  for (const section of document.querySelectorAll('section[data-view]')) {
    const show = section.dataset.view === name;
    section.hidden = !show;
    found ||= show;
  }
  if (!found) byId('view-now').hidden = false;
  for (const link of document.querySelectorAll('[data-view-link]')) {
    const current = link.dataset.viewLink === name || (name === 'report' && link.dataset.viewLink === 'history');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.body.dataset.currentView = found ? name : 'now';
  if (name === 'history') history.show();
  else if (name === 'report' && arg) report.show(decodeURIComponent(arg));
  else if (name === 'trends') {
    trends.show();
    summaryPanel.show();
  }
  else if (name === 'support') support.show();
  else if (name === 'resonance') resonance.show();
  if (found && name !== 'now') byId('main').focus({ preventScroll: true });
}

async function refreshStatus() {
  try {
    const status = await api.get('/api/status');
    chips.apply(status);
    now.onStatus(status ?? {});
    resets.onStatus(status ?? {});
    report.baseline = status?.baseline ?? null;
    document.body.dataset.statusLoaded = 'true';
  } catch (error) {
    // 401: the per-launch token no longer matches (afterbeat restarted): see onSignedOut.
    if (error.status !== 401) console.info('afterbeat: status not available:', error.message);
  }
}

function startLive() {
  // last_event_id=0 on first load: the server sends its kept backlog, so the charts fill at once.
  const live = new LiveStream('/api/live?last_event_id=0');
  live.on('unauthorized', () => showSignIn('restarted'))
    .on('open', () => { document.body.dataset.live = 'open'; refreshStatus(); })
    .on('error', () => { document.body.dataset.live = 'reconnecting'; chips.link(false); refreshStatus(); })
    .on('metrics', (d) => now.onMetrics(d))
    .on('state', (d) => { now.onState(d); resets.onState(d); })
    .on('suggestion', (d) => { now.onSuggestion(d); resets.onSuggestion(d, false, live.replayed); })
    .on('dismissed', () => resets.onDismissed())
    .on('marker', (d) => now.onMarker(d))
    .on('hello', (d) => { chips.apply(d.status); now.onStatus(d.status ?? {}); resets.onHello(d.status ?? {}); })
    .on('status', (d) => { chips.apply(d); now.onStatus(d); resets.onStatus(d); })
    .on('reset_effect', (d) => resets.onEffect(d))
    .on('baseline', (d) => {
      if (d.baseline) now.setBaseline(d.baseline);
      else if (d.reset === true) now.clearBaseline();
    })
    // A reset event sent before this connection's hello is history: the hello's status says
    // whether one runs now (a replayed start would re-run an ended pacer, a replayed stop of an
    // earlier run of the same reset would end the one running).
    .on('reset', (d, type) => resets.onResetEvent(d, type, live.replayed));
  live.on('*', ({ type }) => {
    document.body.dataset.lastEvent = type;
  });
  live.start();
  window.afterbeatLive = live; // for the browser tests: event counts by type
}

const SIGN_IN_REASONS = {
  none: 'This page is not signed in to afterbeat yet.',
  used_or_expired: 'That link was already used or has expired: each link works once, for ten minutes.',
  restarted: 'afterbeat was restarted or stopped since this page was opened.',
};

let statusTimer = null;

/** The calm signed-out page: how to get in, and nothing that needs the server. */
function showSignIn(reason) {
  clearInterval(statusTimer);
  window.afterbeatLive?.stop();
  setText(byId('signin-reason'), SIGN_IN_REASONS[reason] ?? SIGN_IN_REASONS.none);
  document.body.dataset.signedIn = 'false';
  byId('signin').hidden = false;
  byId('main').hidden = true;
  byId('signin-title').focus({ preventScroll: true });
}

onSignedOut((reason) => showSignIn(reason));

signIn().then(({ signedIn, reason }) => {
  if (!signedIn) {
    showSignIn(reason);
    return;
  }
  document.body.dataset.signedIn = 'true';
  window.addEventListener('hashchange', route);
  // The library gives suggestions and reports their titles, the status the baseline band:
  // load both before the first view and the stream.
  Promise.allSettled([resets.loadLibrary(), refreshStatus(), settings.load()]).then(() => {
    route();
    if (document.body.dataset.signedIn === 'true') startLive();
  });
  statusTimer = setInterval(refreshStatus, 5000);
});
