// Status chips: connection, contact, battery, recording. Calm tones only.

import { byId, setText } from './dom.js';

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

function chip(id, text, tone) {
  const el = byId(id);
  setText(el.querySelector('.chip-text'), text);
  el.dataset.tone = tone;
}

/** The status chips in the header. */
export class StatusChips {
  constructor() {
    this.source = null;
  }

  /** Apply a status object from /api/status or a `status` event (missing keys keep their value). */
  apply(status) {
    if (!status || typeof status !== 'object') return;
    const conn = status.connection ?? status.state ?? status.connection_state;
    const connState = typeof conn === 'object' && conn !== null ? conn.state : conn;
    if (typeof status.source === 'string') this.source = status.source;
    if (typeof status.source === 'object' && status.source) this.source = status.source.name ?? status.source.kind ?? this.source;
    if (typeof connState === 'string') {
      let words = CONNECTION_WORDS[connState] ?? connState;
      const attempt = (typeof conn === 'object' && conn?.attempt) ?? status.attempt;
      if (connState === 'reconnecting' && attempt) words = `Reconnecting (try ${attempt})`;
      if (connState === 'streaming' && this.source && /replay|demo/.test(this.source)) words = 'Playing the demo';
      chip('chip-connection', words, connState === 'streaming' ? 'good' : 'quiet');
      byId('chip-connection').dataset.state = connState;
    }

    const battery = status.battery_pct ?? status.battery?.pct ?? status.battery?.level_pct ?? (typeof status.battery === 'number' ? status.battery : undefined);
    if (typeof battery === 'number') {
      chip('chip-battery', `Battery ${Math.round(battery)}%`, battery <= 15 ? 'attention' : 'quiet');
    }

    const contact = status.contact ?? status.sensor_contact;
    if (typeof contact === 'string') {
      const words = {
        detected: 'Good contact', ok: 'Good contact', true: 'Good contact',
        not_detected: 'Check the strap', lost: 'Check the strap', false: 'Check the strap',
        not_supported: 'Contact not reported', unsupported: 'Contact not reported',
      }[contact] ?? contact;
      chip('chip-contact', words, /Check/.test(words) ? 'attention' : 'quiet');
    } else if (typeof contact === 'boolean') {
      chip('chip-contact', contact ? 'Good contact' : 'Check the strap', contact ? 'quiet' : 'attention');
    }

    const rec = status.recording;
    if (rec !== undefined && rec !== null) {
      let text = 'Not recording';
      let tone = 'quiet';
      if (typeof rec === 'boolean') {
        text = rec ? 'Recording' : 'Not recording';
        tone = rec ? 'good' : 'quiet';
      } else if (typeof rec === 'object') {
        if (rec.failing) {
          text = `Recording paused${rec.unrecorded ? ` (${rec.unrecorded} not saved)` : ''}`;
          tone = 'attention';
        } else if (rec.active ?? rec.recording ?? rec.session_id !== undefined) {
          text = 'Recording';
          tone = 'good';
        }
      } else if (typeof rec === 'string') {
        text = rec === 'recording' ? 'Recording' : rec === 'failing' ? 'Recording paused' : 'Not recording';
        tone = rec === 'recording' ? 'good' : rec === 'failing' ? 'attention' : 'quiet';
      }
      chip('chip-recording', text, tone);
    }
    if (status.lan || status.lan_host) byId('lan-banner').hidden = false;
  }

  /** The live link dropped or came back. */
  link(connected) {
    if (!connected) chip('chip-connection', 'Reconnecting to afterbeat', 'quiet');
  }
}
