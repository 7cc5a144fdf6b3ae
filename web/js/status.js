// Status chips: connection, contact, battery, recording. Calm tones only.

import { byId, connectionOf, setText } from './dom.js';

const CONNECTION_WORDS = {
  idle: 'Waiting',
  scanning: 'Looking for your strap',
  connecting: 'Connecting',
  streaming: 'Connected',
  reconnecting: 'Reconnecting',
  bluetooth_off: 'Bluetooth is off',
  finished: 'Recording ended',
  stopped: 'Stopped',
};

const CONTACT_WORDS = {
  detected: 'Good contact',
  not_detected: 'Check the strap',
  not_supported: 'Contact not reported',
};

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function chip(id, text, tone) {
  const el = byId(id);
  setText(el.querySelector('.chip-text'), text);
  el.dataset.tone = tone;
}

/** The status chips in the header. */
export class StatusChips {
  constructor() {
    this.demo = false;
  }

  /** Apply /api/status (or the status inside a `hello` event); a `status` event has the
   *  connection fields at the top level. Missing keys keep their value. */
  apply(status) {
    if (!status || typeof status !== 'object') return;
    if (typeof status.demo === 'boolean') this.demo = status.demo;
    const conn = connectionOf(status);
    const state = typeof conn.state === 'string' ? conn.state : null;
    if (state) {
      let words = CONNECTION_WORDS[state] ?? state.replace(/_/g, ' ');
      if (state === 'reconnecting' && conn.attempt) words = `Reconnecting (try ${conn.attempt})`;
      if (state === 'streaming' && this.demo) words = 'Playing the demo';
      else if (state === 'finished' && this.demo) words = 'The demo has ended';
      else if (state === 'streaming' && conn.device_name) words = `Connected to ${conn.device_name}`;
      chip('chip-connection', words, state === 'streaming' ? 'good' : 'quiet');
      byId('chip-connection').dataset.state = state;
      // The demo's story is over: say so, and how to stop it (the terminal says it too).
      byId('demo-banner').hidden = !(this.demo && state === 'finished');
    }

    // Contact and battery describe a strap being worn: shown while it streams (the battery also
    // while it reconnects), never as if current once the recording or the demo has ended.
    const shownState = state ?? byId('chip-connection').dataset.state ?? null;
    const ended = shownState === 'finished' || shownState === 'stopped';
    const battery = num(status.battery_pct) ?? num(conn.battery_pct);
    if (battery !== null) chip('chip-battery', `Battery ${Math.round(battery)}%`, battery <= 15 ? 'attention' : 'quiet');
    if (ended) byId('chip-battery').hidden = true;
    else if (battery !== null) byId('chip-battery').hidden = false;

    const contact = conn.contact;
    if (shownState !== null && shownState !== 'streaming') {
      byId('chip-contact').hidden = true;
    } else if (typeof contact === 'string') {
      const words = CONTACT_WORDS[contact] ?? contact.replace(/_/g, ' ');
      chip('chip-contact', words, contact === 'not_detected' ? 'attention' : contact === 'detected' ? 'good' : 'quiet');
      byId('chip-contact').hidden = false;
    } else if (conn.rr_available === false) {
      chip('chip-contact', 'Heart rate only', 'quiet');
      byId('chip-contact').hidden = false;
    }

    const rec = status.recording;
    if (rec && typeof rec === 'object') {
      let text = 'Not recording';
      let tone = 'quiet';
      if (rec.failing) {
        text = `Recording paused${rec.unrecorded ? `, ${rec.unrecorded} not saved` : ''}`;
        tone = 'attention';
      } else if (rec.active) {
        text = this.demo ? 'Recording the demo' : 'Recording';
        tone = 'good';
      }
      chip('chip-recording', text, tone);
      byId('chip-recording').dataset.active = String(Boolean(rec.active));
    }
    if (status.lan === true) byId('lan-banner').hidden = false;
    if (Array.isArray(status.notes)) {
      const notes = status.notes.filter((note) => typeof note === 'string');
      setText(byId('notes-banner'), notes.join(' '));
      byId('notes-banner').hidden = notes.length === 0;
    }
  }

  /** The live link dropped or came back. */
  link(connected) {
    if (!connected) chip('chip-connection', 'Reconnecting to afterbeat', 'quiet');
  }
}
