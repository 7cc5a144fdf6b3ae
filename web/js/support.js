// Support: the not-a-medical-device line, the plan's words and contact, crisis lines by locale.

import { api } from './api.js';
import { byId, clear, h, setText } from './dom.js';
import { PlanEditor } from './plan.js';

const LOCALE = /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,3})?$/;

export class SupportView {
  /** @param {{library: () => Map<string, object>}} options */
  constructor({ library } = { library: () => new Map() }) {
    this.editor = new PlanEditor({ library, onSaved: (plan) => this.showPlan(plan, true) });
    this.planBox = byId('support-plan');
    this.coping = byId('plan-coping');
    this.contact = byId('plan-contact');
    this.lines = byId('crisis-lines');
    this.localeNote = byId('crisis-locale');
    this.wireBaseline();
  }

  async show() {
    const [plan] = await Promise.all([this.loadPlan(), this.loadHint(), this.loadBaseline()]);
    await this.loadLines(plan);
  }

  /** The stored baseline in words, and the two-step "start over" (GET/DELETE /api/baseline). */
  async loadBaseline() {
    const card = byId('baseline-card');
    try {
      const data = (await api.get('/api/baseline')) ?? {};
      setText(byId('baseline-description'), String(data.description ?? ''));
      card.dataset.provisional = String(data.provisional === true);
      card.dataset.recordings = String(data.recording_count ?? 0);
      byId('btn-baseline-reset').hidden = !data.baseline;
    } catch {
      setText(byId('baseline-description'), 'The baseline is not available right now.');
    }
  }

  wireBaseline() {
    const ask = byId('btn-baseline-reset');
    const confirm = byId('baseline-confirm');
    const status = byId('baseline-status');
    ask.addEventListener('click', () => {
      confirm.hidden = false;
      ask.hidden = true;
      setText(status, '');
      byId('btn-baseline-reset-no').focus();
    });
    byId('btn-baseline-reset-no').addEventListener('click', () => {
      confirm.hidden = true;
      ask.hidden = false;
      ask.focus();
    });
    byId('btn-baseline-reset-yes').addEventListener('click', async () => {
      confirm.hidden = true;
      try {
        await api.del('/api/baseline');
        setText(status, 'The baseline was reset. Mark a few minutes of seated rest to build it again.');
      } catch (error) {
        setText(status, `Not reset: ${error.message}`);
      }
      await this.loadBaseline();
    });
  }

  /** The gentle therapist hint from the trends, when settling keeps slowing (never urgent). */
  async loadHint() {
    const box = byId('support-hint');
    try {
      const hint = ((await api.get('/api/trends')) ?? {}).hint;
      clear(box);
      box.hidden = !hint;
      if (!hint) return;
      box.append(h('h2', {}, 'Something you might bring to your therapist'));
      for (const reason of hint.reasons ?? []) box.append(h('p', {}, String(reason)));
      box.append(h('p', {}, String(hint.text ?? '')));
    } catch {
      box.hidden = true;
    }
  }

  async loadPlan() {
    try {
      const plan = (await api.get('/api/plan')) ?? {};
      this.showPlan(plan, false);
      return plan;
    } catch {
      this.planBox.hidden = true;
      return {};
    }
  }

  /** Show the plan's words (as text) and fill the editor; after a save, refresh the lines. */
  showPlan(plan, saved) {
    const coping = typeof plan.coping_text === 'string' ? plan.coping_text : '';
    const contact = typeof plan.contact_text === 'string' ? plan.contact_text : '';
    setText(this.coping, coping);
    setText(this.contact, contact);
    this.planBox.hidden = !coping && !contact;
    byId('support-no-plan').hidden = !this.planBox.hidden;
    if (saved) this.loadLines(plan);
    else this.editor.fill(plan);
  }

  /** The plan's locale wins (the server uses it when none is asked); else the browser's. */
  async loadLines(plan) {
    let query = '';
    if (!plan.locale) {
      const parts = String(navigator.language || '').split('-');
      const locale = parts.length > 2 ? `${parts[0]}-${parts[parts.length - 1]}` : parts.join('-');
      if (LOCALE.test(locale)) query = `?locale=${encodeURIComponent(locale)}`;
    }
    clear(this.lines);
    try {
      const data = (await api.get(`/api/crisis-lines${query}`)) ?? {};
      for (const line of data.lines ?? []) this.lines.append(lineItem(line));
      if (!(data.lines ?? []).length) {
        this.lines.append(h('li', { class: 'muted' }, data.note || 'No lines are listed for your region yet. Your local emergency number is always there.'));
      } else if (data.note) {
        this.lines.append(h('li', { class: 'small muted' }, data.note));
      }
      setText(this.localeNote, data.locale ? `Chosen for ${data.locale}.` : '');
    } catch {
      this.lines.append(h('li', { class: 'muted' }, 'The list of lines is not available right now. Your local emergency number is always there.'));
    }
  }
}

function lineItem(line) {
  const dial = String(line.dial ?? '').replace(/[^0-9+]/g, '');
  return h('li', {},
    h('div', { class: 'crisis-head' },
      h('strong', {}, String(line.name ?? '')),
      dial ? h('a', { class: 'crisis-number', href: `tel:${dial}` }, String(line.number ?? dial)) : null),
    line.description ? h('div', { class: 'small' }, String(line.description)) : null,
    h('div', { class: 'small muted' },
      'Source: ', String(line.source_url ?? ''),
      line.checked ? `, checked ${line.checked}` : ''));
}
