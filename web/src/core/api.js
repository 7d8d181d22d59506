// The only code that talks to /api/v1. Every call carries the session
// cookie, the selected account (X-Inlet-Account) and, when it changes
// state, the session's CSRF token; a failure becomes an ApiError with the
// server's own message, and a 401 sends the whole app back to the login.

// Relative, so the dashboard also works behind a path prefix: hash routing
// keeps the document itself at the root of wherever it is served.
export const BASE = 'api/v1';

let csrfToken = '';
let accountId = '';
let unauthorized = () => {};

export function setCsrf(token) { csrfToken = token || ''; }
export function setAccount(id) { accountId = id || ''; }
export function onUnauthorized(f) { unauthorized = f; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** "?a=1&b=2" from an object, leaving out empty values; "" when none. */
export function qs(params = {}) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

/**
 * Calls the API; resolves the parsed JSON body (null for 204). `quiet401`
 * is for the calls that find out whether there is a session at all.
 */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (accountId) headers['X-Inlet-Account'] = accountId;
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep null */ }
  if (!res.ok) {
    const e = data && data.error;
    const err = new ApiError(res.status, (e && e.code) || `http_${res.status}`,
      (e && e.message) || (typeof e === 'string' ? e : `The server answered ${res.status}.`));
    if (res.status === 401 && !quiet401) unauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, params, opts) => api('GET', path + qs(params), undefined, opts);
export const post = (path, body = {}, opts) => api('POST', path, body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

/**
 * A URL for a plain link (downloads, exports). A link cannot send
 * X-Inlet-Account, so the account goes in the query (the server must
 * accept ?account=; without it a one-account user is served the same).
 */
export function linkUrl(path, params = {}) {
  return BASE + path + qs({ ...params, account: accountId });
}
