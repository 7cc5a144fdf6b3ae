// JSON calls to the local afterbeat server, and the page's sign-in.
//
// The per-launch token is kept in localStorage, which the browser scopes to this exact origin
// (scheme, host AND port: a page on any other local port cannot read it), and sent as the
// X-Afterbeat-Token header. There is no cookie. The token arrives once: afterbeat opens
// /#launch=<ticket>; the fragment never reaches a server or a log, and the page exchanges the
// ticket with POST /api/session (docs/security.md, W-TOKEN and W-LAUNCH).

const TOKEN_KEY = 'afterbeat-token';
export const TOKEN_HEADER = 'X-Afterbeat-Token';

const signedOutListeners = [];

/** The stored token for this origin, or null. */
export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the page works until it is reloaded
  }
}

/** Call `listener(reason)` when the server no longer accepts this page's token. */
export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

function signedOut(reason) {
  storeToken(null);
  for (const listener of signedOutListeners) listener(reason);
}

/** Headers that carry the token (for fetches made outside `api`, e.g. the live stream). */
export function authHeaders(extra = {}) {
  const value = token();
  return value ? { ...extra, [TOKEN_HEADER]: value } : { ...extra };
}

async function quietJson(method, path, body) {
  // Only /api/session is called before the page is signed in: it always answers 200.
  const init = { method, cache: 'no-store', credentials: 'omit', headers: authHeaders({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(path, init);
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/**
 * Sign the page in: redeem a launch ticket from the address's fragment (once), else check the
 * stored token. Resolves to {signedIn, reason}; reason is 'none', 'used_or_expired' or
 * 'restarted' when signed out.
 */
export async function signIn() {
  const match = location.hash.match(/^#launch=([A-Za-z0-9_-]{1,256})$/);
  if (match) {
    // Out of the address bar and the history at once, whatever the answer.
    history.replaceState(null, '', location.pathname + location.search);
    const answer = await quietJson('POST', '/api/session', { ticket: match[1] });
    if (answer && answer.signed_in === true && typeof answer.token === 'string') {
      storeToken(answer.token);
      return { signedIn: true, reason: null };
    }
    if (token() && (await quietJson('GET', '/api/session'))?.signed_in === true) {
      return { signedIn: true, reason: null }; // an old link opened again in a signed-in browser
    }
    storeToken(null);
    return { signedIn: false, reason: 'used_or_expired' };
  }
  if (!token()) return { signedIn: false, reason: 'none' };
  const answer = await quietJson('GET', '/api/session');
  if (answer?.signed_in === true) return { signedIn: true, reason: null };
  storeToken(null);
  return { signedIn: false, reason: answer ? 'restarted' : 'none' };
}

/** An error answer from the server, with its status and the field it names (if any). */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  if (body && typeof body === 'object') {
    const detail = body.detail ?? body.error ?? body.message;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail) && detail.length && detail[0].msg) return String(detail[0].msg);
  }
  return `The server answered ${status}.`;
}

async function send(method, path, body) {
  if (!token()) throw new ApiError(401, { detail: 'This page is not signed in to afterbeat.' });
  const init = {
    method,
    credentials: 'omit',
    cache: 'no-store',
    headers: authHeaders({ Accept: 'application/json' }),
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) signedOut('restarted');
  return response;
}

async function request(method, path, body) {
  const response = await send(method, path, body);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Fetch `path` with the token and hand it to the browser as a download named `filename`. */
async function download(path, filename) {
  const response = await send('GET', path);
  if (!response.ok) throw new ApiError(response.status, null);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  put: (path, body = {}) => request('PUT', path, body),
  del: (path) => request('DELETE', path),
  download,
};
