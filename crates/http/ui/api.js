// The agent's API, as the page calls it: same origin, the operator's token (kept in
// this tab's session storage, never in the URL or a cookie) as X-Nomad-Token, and
// errors carried as the API words them.

const TOKEN_KEY = 'rollout.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(secret) {
  if (secret) sessionStorage.setItem(TOKEN_KEY, secret);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** The headers every call sends. */
export function headers(extra = {}) {
  const h = { ...extra };
  const t = token();
  if (t) h['X-Nomad-Token'] = t;
  return h;
}

/** An answer other than 2xx: `status` (0 when the agent could not be reached) and the
 * API's own text. */
export class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
    this.text = text;
  }

  /** What the page shows: the status code and the API's words, plus what to do about
   * a refusal the operator can fix. */
  explain() {
    if (this.status === 0) return `The agent cannot be reached: ${this.text}`;
    const said = `${this.status}: ${this.text}`;
    if (this.status === 403) {
      return token()
        ? `${said} — the token in use lacks the capability for this.`
        : `${said} — ACLs are on: enter a token above.`;
    }
    return said;
  }
}

export async function request(method, path, body) {
  const init = { method, headers: headers(), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  const text = await res.text();
  if (!res.ok) throw new ApiError(res.status, text.trim() || res.statusText);
  return text ? JSON.parse(text) : null;
}

export const get = (path) => request('GET', path);
export const put = (path, body) => request('PUT', path, body);

/** `name=value` pairs, encoded; undefined values left out. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A path segment (job IDs may hold `/`). */
export const seg = encodeURIComponent;
