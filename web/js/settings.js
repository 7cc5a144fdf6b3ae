// The person's display settings, kept by the server (GET/PUT /api/settings).

import { api } from './api.js';

const DEFAULTS = {
  locale: 'en-US', audio_cues: false, vibration: false, show_numbers: true,
  breaths_per_min: 6, chart_minutes: 10,
};

/** Settings with load() and update(patch); listeners hear every change. */
export class Settings {
  constructor() {
    this.values = { ...DEFAULTS };
    this.listeners = [];
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  async load() {
    try {
      const data = await api.get('/api/settings');
      if (data && typeof data === 'object') this.values = { ...DEFAULTS, ...data };
    } catch (error) {
      console.info('afterbeat: settings not available:', error.message);
    }
    for (const listener of this.listeners) listener(this.values);
    return this.values;
  }

  /** Change some settings and store them; the page keeps the change even if storing fails. */
  async update(patch) {
    this.values = { ...this.values, ...patch };
    for (const listener of this.listeners) listener(this.values);
    try {
      const stored = await api.put('/api/settings', this.values);
      if (stored && typeof stored === 'object') this.values = { ...this.values, ...stored };
    } catch (error) {
      console.info('afterbeat: settings not stored:', error.message);
    }
  }
}

export const settings = new Settings();
