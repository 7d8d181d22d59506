// How numbers, sizes and times read in the dashboard.

const nf = new Intl.NumberFormat();
export const num = (n) => (n === undefined || n === null ? '—' : nf.format(n));

export function bytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${i ? v.toFixed(v < 10 ? 1 : 0) : v} ${units[i]}`;
}

export const pct = (r) => (Number.isFinite(r) ? `${(r * 100).toFixed(r < 0.1 ? 1 : 0)}%` : '—');

/** Milliseconds since the epoch, from an ISO string or a number. */
export function toMs(t) {
  if (t === undefined || t === null || t === '') return NaN;
  return typeof t === 'number' ? t : Date.parse(t);
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function dateTime(t) {
  const ms = toMs(t);
  return Number.isFinite(ms) ? dtf.format(ms) : '—';
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
export function ago(t, now = Date.now()) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round((ms - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return 'just now';
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(s / 86400), 'day');
  return dateTime(ms);
}

/** A field's value as one line of text (arrays joined, objects as JSON). */
export function text(v) {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(text).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
