// The live stream: Server-Sent Events from /api/live, dispatched by event type.
// EventSource reconnects by itself and sends Last-Event-ID, so the server resumes where we were.

// Exactly the types the server sends (afterbeat.events.EventType; a test keeps them equal).
const EVENT_TYPES = [
  'metrics', 'state', 'suggestion', 'recovery', 'marker', 'baseline', 'reset_effect',
  'status', 'reset', 'dismissed', 'hello', 'heartbeat',
];

/** A typed view of /api/live; handlers get the parsed JSON of each event. */
export class LiveStream {
  constructor(url = '/api/live') {
    this.url = url;
    this.handlers = new Map();
    this.source = null;
    this.connected = false;
    this.lastEventAt = 0;
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

  start() {
    const source = new EventSource(this.url, { withCredentials: false });
    this.source = source;
    source.addEventListener('open', () => {
      this.connected = true;
      this.emit('open', {});
    });
    source.addEventListener('error', () => {
      this.connected = source.readyState === EventSource.OPEN;
      this.emit('error', { closed: source.readyState === EventSource.CLOSED });
      if (source.readyState === EventSource.CLOSED) {
        // The server closed for good (e.g. it dropped a slow client): try again shortly.
        setTimeout(() => { if (this.source === source) this.start(); }, 3000);
      }
    });
    const dispatch = (event) => {
      this.lastEventAt = Date.now();
      let data = null;
      try {
        data = event.data ? JSON.parse(event.data) : {};
      } catch {
        return;
      }
      const { type } = event;
      this.counts[type] = (this.counts[type] ?? 0) + 1;
      this.last[type] = data;
      if (type === 'marker' && data && typeof data.kind === 'string') this.last[`marker_${data.kind}`] = data;
      this.emit(type, data);
      this.emit('*', { type, data });
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, dispatch);
  }
}
