// Small pieces every page uses.
import { ago, dateTime } from '../core/format.js';

export function Loading({ label = 'Loading…' }) {
  return <div class="loading" role="status"><span class="spinner" aria-hidden="true" />{label}</div>;
}

export function Empty({ title, children }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children && <div class="muted">{children}</div>}
    </div>
  );
}

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      <span>{error.message || String(error)}</span>
      {onRetry && <button type="button" class="btn btn-sm" onClick={onRetry}>Try again</button>}
    </div>
  );
}

export function Time({ t, relative = true }) {
  if (t === undefined || t === null) return <span class="muted">—</span>;
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return <span class="muted">—</span>;
  return <time dateTime={new Date(ms).toISOString()} title={dateTime(ms)}>{relative ? ago(ms) : dateTime(ms)}</time>;
}

export function Badge({ kind = 'neutral', children }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function PageHead({ title, sub, children }) {
  return (
    <div class="page-head">
      <div>
        <h1>{title}</h1>
        {sub && <p class="muted">{sub}</p>}
      </div>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

/** Segmented buttons: one of a few options (status tabs, ranges). */
export function Segmented({ label, options, value, onChange }) {
  return (
    <div class="segmented" role="group" aria-label={label}>
      {options.map((o) => (
        <button key={o.value} type="button" aria-pressed={value === o.value ? 'true' : 'false'}
          onClick={() => onChange(o.value)}>{o.label}{o.count !== undefined && <span class="count">{o.count}</span>}</button>
      ))}
    </div>
  );
}
