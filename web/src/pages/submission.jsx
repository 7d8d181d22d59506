// The detail panel of one submission: every field, its files with
// download links, what the server noted about the post, and the actions
// the role allows. Escape closes it.
import { useEffect, useRef } from 'preact/hooks';
import { linkUrl } from '../core/api.js';
import { bytes, dateTime } from '../core/format.js';
import { Badge } from '../ui/common.jsx';

export const STATUS_LABEL = { inbox: 'Inbox', spam: 'Spam', trash: 'Trash' };

function Value({ v }) {
  if (Array.isArray(v)) return <ul class="plain">{v.map((x, i) => <li key={i}><Value v={x} /></li>)}</ul>;
  if (v !== null && typeof v === 'object') return <pre class="json">{JSON.stringify(v, null, 2)}</pre>;
  if (v === '' || v === null || v === undefined) return <span class="muted">(empty)</span>;
  return <span class="prewrap">{String(v)}</span>;
}

export function SubmissionPanel({ sub, manage, onClose, onStatus, onDelete }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.focus();
    const onKey = (e) => {
      // A dialog over the panel takes its own Escape.
      if (e.key === 'Escape' && !document.querySelector('dialog[open]')) onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [sub.id]);

  const fields = Object.entries(sub.fields || {});
  const meta = Object.entries(sub.meta || {}).filter(([, v]) => v !== null && v !== '');
  return (
    <aside class="panel" role="dialog" aria-label="Submission" tabIndex={-1} ref={ref}>
      <div class="panel-head">
        <div>
          <h2>Submission</h2>
          <p class="muted small">{dateTime(sub.created_at)} · <Badge kind={sub.status === 'spam' ? 'warn' : sub.status === 'trash' ? 'neutral' : 'ok'}>{STATUS_LABEL[sub.status] || sub.status}</Badge></p>
        </div>
        <button type="button" class="icon-btn" aria-label="Close" onClick={onClose}>×</button>
      </div>
      {manage && (
        <div class="panel-actions">
          {sub.status !== 'spam' && <button type="button" class="btn btn-sm" onClick={() => onStatus('spam')}>Spam</button>}
          {sub.status === 'spam' && <button type="button" class="btn btn-sm" onClick={() => onStatus('inbox')}>Not spam</button>}
          {sub.status !== 'trash' && <button type="button" class="btn btn-sm" onClick={() => onStatus('trash')}>Trash</button>}
          {sub.status === 'trash' && <button type="button" class="btn btn-sm" onClick={() => onStatus('inbox')}>Restore</button>}
          <button type="button" class="btn btn-sm btn-danger" onClick={onDelete}>Delete forever</button>
        </div>
      )}
      <div class="panel-body">
        <section>
          <h3>Fields</h3>
          {fields.length ? (
            <dl class="kv">
              {fields.map(([k, v]) => <div key={k}><dt>{k}</dt><dd><Value v={v} /></dd></div>)}
            </dl>
          ) : <p class="muted">No fields.</p>}
        </section>
        {sub.files && sub.files.length > 0 && (
          <section>
            <h3>Files</h3>
            <ul class="files">
              {sub.files.map((f, n) => (
                <li key={n}>
                  <a href={linkUrl(`/submissions/${sub.id}/files/${n}`)} download={f.name || ''}>{f.name || `file ${n + 1}`}</a>
                  <span class="muted small"> {bytes(f.size)} · {f.content_type || 'unknown type'}{f.field ? ` · ${f.field}` : ''}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
        <section>
          <h3>Details</h3>
          <dl class="kv kv-small">
            <div><dt>id</dt><dd><code>{sub.id}</code></dd></div>
            {meta.map(([k, v]) => <div key={k}><dt>{k.replace(/_/g, ' ')}</dt><dd><Value v={v} /></dd></div>)}
          </dl>
        </section>
      </div>
    </aside>
  );
}
