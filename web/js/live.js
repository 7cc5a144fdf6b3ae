// The live stream: Server-Sent Events from /api/live, dispatched by event type.
// Read with fetch() rather than EventSource, so that it carries the X-Afterbeat-Token header
// (EventSource cannot send headers, and afterbeat uses no cookie). It reconnects by itself
// and sends Last-Event-ID, so the server resumes where we were.

import { authHeaders } from './api.js';

// Exactly the types the server sends (afterbeat.events.EventType; a test keeps them equal).
const EVENT_TYPES = [
  'metrics', 'state', 'suggestion', 'recovery', 'marker', 'baseline', 'reset_effect',
  'status', 'reset', 'dismissed', 'hello', 'heartbeat', 'resonance',
];

/** A typed view of /api/live; handlers get the parsed JSON of each event. */
export class LiveStream {
  constructor(url = '/api/live') {
    this.url = url;
    this.handlers = new Map();
    this.controller = null;
    this.connected = false;
    this.lastEventId = null;
    this.retryMs = 2000;
    this.lastEventAt = 0;
    this.helloSeq = null; // last_seq of this connection's hello: events up to it are history
    this.replayed = false; // true while dispatching such an event (already in hello's status)
    this.counts = {};
    this.last = {}; // the latest event of each type (markers also by kind), for tests and views
  }

  /** Register a handler for one event type ('*' gets every event, 'open'/'error' the link). */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  emit(type, data) {
    for (const handler of this.handlers.get(type) ?? []) {
      try {
        handler(data, type);
      } catch (error) {
        // A drawing problem must never stop the stream; report it once to the console.
        console.warn('afterbeat: handler for', type, 'failed:', error);
      }
    }
  }

  /** Open the stream (again); a previous connection of this object is closed first. */
  start() {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.run(controller.signal);
  }

  /** Close the stream for good (until start is called again). */
  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.connected = false;
  }

  async run(signal) {
    let first = true;
    while (!signal.aborted) {
      const headers = authHeaders({ Accept: 'text/event-stream' });
      if (this.lastEventId !== null) headers['Last-Event-ID'] = String(this.lastEventId);
      let retryMs = this.retryMs;
      try {
        const response = await fetch(first ? this.url : this.url.split('?')[0], {
          headers, cache: 'no-store', credentials: 'omit', signal,
        });
        if (response.status === 401) {
          this.connected = false;
          this.emit('unauthorized', {});
          return;
        }
        if (!response.ok || !response.body) {
          if (response.status === 503) retryMs = Math.max(retryMs, 5000);
          throw new Error(`live stream answered ${response.status}`);
        }
        first = false;
        this.connected = true;
        this.emit('open', {});
        await this.read(response.body.getReader(), signal);
      } catch {
        // network error, refused or ended: reconnect below unless stopped
      }
      if (signal.aborted) return;
      this.connected = false;
      this.emit('error', { closed: true });
      await new Promise((resolve) => { setTimeout(resolve, retryMs); });
    }
  }

  async read(reader, signal) {
    const decoder = new TextDecoder();
    let buffer = '';
    let event = { type: 'message', data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + (buffer[cut] === '\r' && buffer[cut + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (event.data.length) this.dispatch(event.type, event.data.join('\n'));
          event = { type: 'message', data: [], id: null };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        let field = colon < 0 ? '' : line.slice(colon + 1);
        if (field.startsWith(' ')) field = field.slice(1);
        if (name === 'event') event.type = field || 'message';
        else if (name === 'data') event.data.push(field);
        else if (name === 'id' && /^\d+$/.test(field)) this.lastEventId = Number(field);
        else if (name === 'retry' && /^\d+$/.test(field)) this.retryMs = Math.min(Number(field), 30_000);
      }
    }
  }

  dispatch(eventType, text) {
    this.lastEventAt = Date.now();
    let data = null;
    try {
      data = text ? JSON.parse(text) : {};
    } catch {
      return;
    }
    const type = (data && typeof data.type === 'string' && eventType === 'message') ? data.type : eventType;
    if (eventType !== 'message' && !EVENT_TYPES.includes(type)) return;
    if (type === 'hello' && data && Number.isInteger(data.last_seq)) this.helloSeq = data.last_seq;
    this.replayed = type !== 'hello' && this.helloSeq !== null && this.lastEventId !== null
      && this.lastEventId <= this.helloSeq;
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    this.last[type] = data;
    if (type === 'marker' && data && typeof data.kind === 'string') this.last[`marker_${data.kind}`] = data;
    this.emit(type, data);
    this.emit('*', { type, data });
  }
}
