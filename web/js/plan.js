// The plan made with the therapist: preferred and avoided resets, own words, contact, pace,
// locale. Read with GET /api/plan, saved with PUT /api/plan (the server names a bad field).

import { api } from './api.js';
import { byId, clear, h, setText } from './dom.js';

const PACES = [4.5, 5, 5.5, 6, 6.5, 7];

export class PlanEditor {
  /** @param {{library: () => Map<string, object>, onSaved: (plan: object) => void}} options */
  constructor({ library, onSaved }) {
    this.library = library;
    this.onSaved = onSaved;
    this.plan = {};
    this.form = byId('plan-form');
    this.saved = byId('plan-saved');
    const pace = byId('plan-pace');
    pace.append(h('option', { value: '' }, 'the usual (6 a minute)'));
    for (const value of PACES) pace.append(h('option', { value: String(value) }, `${value} a minute`));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
  }

  /** Fill the form from a plan JSON (as GET /api/plan returns it). */
  fill(plan) {
    this.plan = plan ?? {};
    byId('plan-coping-text').value = this.plan.coping_text ?? '';
    byId('plan-contact-text').value = this.plan.contact_text ?? '';
    byId('plan-locale').value = this.plan.locale ?? '';
    byId('plan-pace').value = this.plan.breaths_per_min ? String(this.plan.breaths_per_min) : '';
    // the latest resonance assessment (afterbeat.resets.resonance), kept in the plan's field
    const assessed = this.plan.resonance;
    const line = byId('plan-resonance');
    line.hidden = !(assessed && typeof assessed.breaths_per_min === 'number');
    setText(line, line.hidden ? '' : `Assessed pace: ${assessed.breaths_per_min} a minute (${String(assessed.verdict ?? '').replace('_', ' ')}${assessed.assessed_at ? `, ${String(assessed.assessed_at).slice(0, 10)}` : ''}); see Your pace.`);
    this.fillChecks('plan-preferred', this.plan.preferred ?? []);
    this.fillChecks('plan-avoided', this.plan.avoided ?? []);
    setText(this.saved, '');
  }

  fillChecks(id, chosen) {
    const box = byId(id);
    clear(box);
    for (const reset of this.library().values()) {
      const inputId = `${id}-${reset.id}`;
      box.append(h('label', { for: inputId },
        h('input', { type: 'checkbox', id: inputId, value: reset.id, checked: chosen.includes(reset.id) }),
        String(reset.title ?? reset.id)));
    }
  }

  checked(id) {
    return [...byId(id).querySelectorAll('input:checked')].map((input) => input.value);
  }

  async save() {
    const pace = byId('plan-pace').value;
    const locale = byId('plan-locale').value.trim();
    const body = {
      ...this.plan,
      coping_text: byId('plan-coping-text').value,
      contact_text: byId('plan-contact-text').value,
      preferred: this.checked('plan-preferred'),
      avoided: this.checked('plan-avoided'),
      breaths_per_min: pace ? Number(pace) : null,
      locale: locale || null,
    };
    setText(this.saved, 'Saving…');
    try {
      const stored = await api.put('/api/plan', body);
      this.plan = stored ?? body;
      setText(this.saved, 'Saved.');
      this.onSaved(this.plan);
    } catch (error) {
      setText(this.saved, `Not saved: ${error.message}`);
    }
  }
}
