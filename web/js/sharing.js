// What the person may take away: a summary of the last weeks (saved as one HTML file they can
// print or attach) and the plan as a readable file or a printable card. Nothing is sent
// anywhere: the server builds the file, the browser saves it where the person chooses.

import { api } from './api.js';
import { byId, clear, dateText, h, setText } from './dom.js';

function intoText(tS) {
  const minutes = Math.floor(Math.max(0, Number(tS)) / 60);
  return minutes < 1 ? 'at the start' : `${minutes} min into the recording`;
}

/** Where a file saved through the browser went, in plain words (the browser decides, not afterbeat). */
export function savedWhere(filename) {
  return `Your browser saved it as ${filename}, in your Downloads folder unless it is set to ask where to save.`;
}

/** Save text as a file through the browser's own download (no network, no new page). */
export function saveFile(filename, text, type = 'text/html') {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export class SummaryPanel {
  constructor() {
    this.form = byId('summary-form');
    this.period = byId('summary-since');
    this.ratings = byId('summary-ratings');
    this.notes = byId('summary-notes');
    this.status = byId('summary-status');
    this.period.addEventListener('change', () => this.loadNotes());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.make();
    });
  }

  async show() {
    await this.loadNotes();
  }

  async loadNotes() {
    clear(this.notes);
    let notes = [];
    try {
      notes = (await api.get(`/api/summary/notes?since_days=${encodeURIComponent(this.period.value)}`)) ?? [];
    } catch (error) {
      this.notes.append(h('p', { class: 'small muted' }, `Could not load your notes: ${error.message}`));
      return;
    }
    if (!notes.length) {
      this.notes.append(h('p', { class: 'small muted' }, 'No notes in this period.'));
      return;
    }
    notes.forEach((note, i) => {
      const id = `summary-note-${i}`;
      const when = `${dateText(note.started_at)}, ${intoText(note.t_s)}`;
      // What the person wrote first, then when: the note is what they recognise.
      this.notes.append(h('label', { for: id },
        h('input', { type: 'checkbox', id, 'data-session': String(note.session_id), 'data-t': String(note.t_s) }),
        h('span', {}, String(note.text), h('span', { class: 'note-when' }, when))));
    });
  }

  async make() {
    const notes = [...this.notes.querySelectorAll('input:checked')].map((input) => ({
      session_id: Number(input.dataset.session), t_s: Number(input.dataset.t),
    }));
    setText(this.status, 'Putting it together…');
    try {
      const result = await api.post('/api/summary', {
        since_days: Number(this.period.value), include_ratings: this.ratings.checked, notes,
      });
      saveFile(String(result.filename), String(result.html));
      setText(this.status, `${result.contents} ${savedWhere(String(result.filename))} Open it in your browser to read or print it.`);
      this.form.dataset.made = String(Date.now());
    } catch (error) {
      setText(this.status, `Could not make the summary: ${error.message}`);
    }
  }
}

export class PlanFiles {
  /** @param {{onApplied: (plan: object) => void}} options */
  constructor({ onApplied }) {
    this.onApplied = onApplied;
    this.status = byId('plan-file-status');
    this.changes = byId('plan-file-changes');
    this.apply = byId('btn-plan-apply');
    this.pending = null;
    byId('btn-plan-save-file').addEventListener('click', () => this.save('/api/plan/file', 'text', 'text/plain'));
    byId('btn-plan-card').addEventListener('click', () => this.save('/api/plan/card', 'html', 'text/html'));
    byId('plan-file-input').addEventListener('change', (event) => this.preview(event.target));
    this.apply.addEventListener('click', () => this.applyPending());
  }

  async save(path, key, type) {
    try {
      const result = await api.get(path);
      saveFile(String(result.filename), String(result[key]), type);
      setText(this.status, savedWhere(String(result.filename)));
    } catch (error) {
      setText(this.status, `Could not save: ${error.message}`);
    }
  }

  async preview(input) {
    const file = input.files && input.files[0];
    clear(this.changes);
    this.apply.hidden = true;
    this.pending = null;
    if (!file) return;
    if (file.size > 64 * 1024) {
      setText(this.status, 'That file is too large to be a plan (a plan is a few hundred bytes).');
      return;
    }
    try {
      const result = await api.post('/api/plan/preview', { text: await file.text() });
      const changes = Array.isArray(result.changes) ? result.changes : [];
      if (!changes.length) {
        setText(this.status, 'This plan is the same as the one in use; nothing to change.');
        return;
      }
      setText(this.status, 'Loading this plan would change:');
      // The server's plain lines ("contact: 'a' -> 'b'"), with an arrow a person reads as one.
      for (const line of changes) this.changes.append(h('li', {}, String(line).replaceAll(' -> ', ' → ')));
      this.pending = result.plan;
      this.apply.hidden = false;
    } catch (error) {
      setText(this.status, `Nothing was changed. ${error.message}`);
    } finally {
      input.value = '';
    }
  }

  async applyPending() {
    if (!this.pending) return;
    try {
      const plan = await api.put('/api/plan', this.pending);
      clear(this.changes);
      this.apply.hidden = true;
      this.pending = null;
      setText(this.status, 'The plan from the file is in use now.');
      this.onApplied(plan);
    } catch (error) {
      setText(this.status, `Could not apply it: ${error.message}`);
    }
  }
}
