// Numbers and times as an operator reads them.

export const shortId = (id) => String(id || '').slice(0, 8);

/** Nanoseconds as Go prints short durations: 0s, 45s, 10m, 1h30m. */
export function duration(ns) {
  let s = Math.round(Number(ns) / 1e9);
  if (!s) return '0s';
  const parts = [];
  for (const [unit, size] of [['h', 3600], ['m', 60], ['s', 1]]) {
    const n = Math.floor(s / size);
    if (n) parts.push(`${n}${unit}`);
    s -= n * size;
  }
  return parts.join('');
}

/** A Unix-nanosecond time as a Date (null for zero). */
export const fromNs = (ns) => (ns ? new Date(Number(ns) / 1e6) : null);

/** "12s ago", "3m ago", "2h ago", "4d ago". */
export function ago(date, now = Date.now()) {
  if (!date) return '—';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Time left until `date`: "4m 12s left", or "passed 3s ago". */
export function countdown(date, now = Date.now()) {
  const ms = date.getTime() - now;
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
  return ms >= 0 ? `${text} left` : `passed ${text} ago`;
}

export const isoTime = (date) => (date ? date.toISOString() : '');

/** Local clock time of a Date, for lists of events. */
export const clock = (date) => (date ? date.toLocaleTimeString([], { hour12: false }) : '—');

export const TERMINAL = new Set(['successful', 'failed', 'cancelled']);
export const isTerminal = (status) => TERMINAL.has(status);
