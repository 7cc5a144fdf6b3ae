// Support: the not-a-medical-device line, the plan's contact text and crisis lines by locale.

import { api } from './api.js';
import { byId, clear, h, setText } from './dom.js';

export class SupportView {
  constructor() {
    this.planBox = byId('support-plan');
    this.coping = byId('plan-coping');
    this.contact = byId('plan-contact');
    this.lines = byId('crisis-lines');
    this.localeNote = byId('crisis-locale');
  }

  async show() {
    await Promise.all([this.loadPlan(), this.loadLines()]);
  }

  async loadPlan() {
    try {
      const data = (await api.get('/api/plan')) ?? {};
      const plan = data.plan ?? data;
      const coping = plan.coping_text ?? plan.coping ?? '';
      const contact = plan.contact_text ?? plan.contact ?? plan.therapist_contact ?? '';
      setText(this.coping, typeof coping === 'string' ? coping : '');
      setText(this.contact, typeof contact === 'string' ? contact : '');
      this.planBox.hidden = !coping && !contact;
    } catch {
      this.planBox.hidden = true;
    }
  }

  async loadLines() {
    const locale = navigator.language || 'en-US';
    clear(this.lines);
    try {
      const data = (await api.get(`/api/crisis-lines?locale=${encodeURIComponent(locale)}`)) ?? {};
      const entries = Array.isArray(data) ? data : (data.lines ?? data.entries ?? []);
      for (const e of entries) {
        const number = e.number ?? e.phone ?? '';
        const checked = e.checked ?? e.checked_on ?? e.date_checked ?? '';
        this.lines.append(h('li', {},
          h('strong', {}, String(e.name ?? '')),
          number ? h('span', { class: 'crisis-number' }, ` ${number}`) : null,
          e.description ? h('div', { class: 'small' }, String(e.description)) : null,
          h('div', { class: 'small muted' },
            e.source_url ? `Source: ${e.source_url}` : '',
            checked ? ` (checked ${checked})` : '')));
      }
      if (!entries.length) this.lines.append(h('li', { class: 'muted' }, 'No lines listed for your region yet. Your local emergency number is always there.'));
      setText(this.localeNote, `Shown for ${data.locale ?? locale}.`);
    } catch {
      this.lines.append(h('li', { class: 'muted' }, 'The list of lines is not available right now. Your local emergency number is always there.'));
    }
  }
}
