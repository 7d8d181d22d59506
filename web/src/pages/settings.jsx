// Every setting of the endpoint as the API returns it, saved with one
// PATCH (the server merges settings at the top level), and the deletion of
// the endpoint behind a typed confirmation. Settings this page does not
// know yet are still shown and saved, as plain values or JSON.
import { useState } from 'preact/hooks';
import { patch, del } from '../core/api.js';
import { href, go } from '../core/router.js';
import { can } from '../core/session.js';
import { bytes } from '../core/format.js';
import { Confirm } from '../ui/dialog.jsx';
import { toast, showError } from '../ui/toast.jsx';

const KNOWN = ['redirect_url', 'allowed_origins', 'required_fields', 'files', 'active', 'ip', 'rate_limit',
  'shard_threshold', 'notify', 'autoresponse', 'subject_template', 'retention_days', 'honeypot'];
const MIB = 1024 * 1024;

const lines = (s) => s.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
const orNull = (s) => (s && s.trim() ? s : null);
const int = (s) => (s === '' || s === null || s === undefined ? undefined : Math.max(0, Math.round(Number(s))));

/** The editable state, as form inputs hold it (strings for lists and numbers). */
function draftOf(ep) {
  const s = ep.settings || {};
  const files = s.files || {};
  const rl = s.rate_limit || {};
  const ar = s.autoresponse || {};
  const extra = {};
  for (const [k, v] of Object.entries(s)) {
    if (!KNOWN.includes(k)) extra[k] = typeof v === 'object' && v !== null ? JSON.stringify(v, null, 2) : v;
  }
  return {
    name: ep.name,
    active: s.active !== false,
    redirect_url: s.redirect_url || '',
    allowed_origins: (s.allowed_origins || []).join('\n'),
    required_fields: (s.required_fields || []).map((f) => ({ name: f.name, type: f.type || 'text' })),
    files_enabled: files.enabled !== false,
    files_max_count: files.max_count ?? '',
    files_max_mib: files.max_size !== undefined ? String(+(files.max_size / MIB).toFixed(2)) : '',
    ip: s.ip || 'hash',
    rl_per_minute: rl.per_minute ?? '',
    rl_burst: rl.burst ?? '',
    notify: (s.notify || []).join('\n'),
    subject_template: s.subject_template || '',
    honeypot: s.honeypot || '',
    ar_enabled: !!ar.enabled,
    ar_subject: ar.subject || '',
    ar_text: ar.text || '',
    retention_days: s.retention_days ?? 0,
    shard_threshold: s.shard_threshold ?? 0,
    extra,
  };
}

/** The PATCH body; throws with a message for a setting that is not valid JSON. */
function bodyOf(d, ep) {
  const s = ep.settings || {};
  const settings = {
    active: d.active,
    redirect_url: orNull(d.redirect_url),
    allowed_origins: lines(d.allowed_origins),
    required_fields: d.required_fields.filter((f) => f.name.trim()).map((f) => ({ name: f.name.trim(), type: f.type })),
    files: { enabled: d.files_enabled, max_count: int(d.files_max_count), max_size: d.files_max_mib === '' ? undefined : Math.round(Number(d.files_max_mib) * MIB) },
    ip: d.ip,
    rate_limit: { per_minute: int(d.rl_per_minute), burst: int(d.rl_burst) },
    notify: lines(d.notify),
    subject_template: orNull(d.subject_template),
    honeypot: orNull(d.honeypot),
    autoresponse: { enabled: d.ar_enabled, subject: orNull(d.ar_subject), text: orNull(d.ar_text) },
    retention_days: int(d.retention_days) ?? 0,
    shard_threshold: int(d.shard_threshold) ?? 0,
  };
  for (const [k, v] of Object.entries(d.extra)) {
    const orig = s[k];
    if (typeof orig === 'object' && orig !== null) {
      try { settings[k] = JSON.parse(v); } catch { throw new Error(`${k}: not valid JSON`); }
    } else if (typeof orig === 'number') settings[k] = Number(v);
    else settings[k] = v;
  }
  return { name: d.name.trim(), settings };
}

export function SettingsPage({ ep, onSaved }) {
  const admin = can('admin');
  const [d, setD] = useState(() => draftOf(ep));
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const set = (k) => (e) => {
    const t = e.currentTarget;
    setD((x) => ({ ...x, [k]: t.type === 'checkbox' ? t.checked : t.value }));
  };
  const setExtra = (k, v) => setD((x) => ({ ...x, extra: { ...x.extra, [k]: v } }));
  const setReq = (i, k, v) => setD((x) => ({ ...x, required_fields: x.required_fields.map((f, j) => (j === i ? { ...f, [k]: v } : f)) }));

  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const saved = await patch(`/endpoints/${ep.id}`, bodyOf(d, ep));
      onSaved(saved);
      setD(draftOf(saved));
      toast('Settings saved');
    } catch (err) {
      setError(err.message);
      showError(err);
    } finally {
      setBusy(false);
    }
  };
  const forms = ep.kind !== 'events';

  return (
    <div class="settings">
      <form onSubmit={save}>
        {!admin && <p class="note">Only admins change settings; you can read them.</p>}
        <fieldset disabled={!admin || busy}>
          <section class="card">
            <h3>General</h3>
            <div class="field"><label for="st-name">Name</label><input id="st-name" required value={d.name} onInput={set('name')} /></div>
            <label class="check"><input type="checkbox" checked={d.active} onChange={set('active')} /> Active <span class="muted small">— a paused endpoint refuses posts</span></label>
          </section>

          {forms && (
            <section class="card">
              <h3>After a post</h3>
              <div class="field">
                <label for="st-redirect">Redirect URL</label>
                <input id="st-redirect" type="url" placeholder="https://example.com/thanks" value={d.redirect_url} onInput={set('redirect_url')} />
                <p class="hint">Where a browser goes after posting; empty: Inlet's thank-you page. A _next field in the form wins.</p>
              </div>
            </section>
          )}

          <section class="card">
            <h3>Protection</h3>
            <div class="field">
              <label for="st-origins">Allowed origins</label>
              <textarea id="st-origins" rows={3} placeholder="https://example.com" value={d.allowed_origins} onInput={set('allowed_origins')} />
              <p class="hint">One per line; empty: any site may send.</p>
            </div>
            {forms && (
              <div class="field">
                <span class="label" id="st-req-label">Required fields</span>
                <ul class="req-list" aria-labelledby="st-req-label">
                  {d.required_fields.map((f, i) => (
                    <li key={i} class="row">
                      <input aria-label="Field name" value={f.name} onInput={(e) => setReq(i, 'name', e.currentTarget.value)} />
                      <select aria-label="Type" value={f.type} onChange={(e) => setReq(i, 'type', e.currentTarget.value)}>
                        <option value="text">text</option><option value="email">email</option><option value="number">number</option>
                      </select>
                      <button type="button" class="btn btn-ghost btn-sm" onClick={() => setD((x) => ({ ...x, required_fields: x.required_fields.filter((_, j) => j !== i) }))}>Remove</button>
                    </li>
                  ))}
                </ul>
                <button type="button" class="btn btn-sm" onClick={() => setD((x) => ({ ...x, required_fields: [...x.required_fields, { name: '', type: 'text' }] }))}>Add a required field</button>
              </div>
            )}
            {forms && (
              <div class="field">
                <label for="st-honeypot">Honeypot field</label>
                <input id="st-honeypot" placeholder="e.g. website" value={d.honeypot} onInput={set('honeypot')} />
                <p class="hint">A hidden field people leave empty and bots fill in: such a post is filed as spam. <code>_gotcha</code> always works; name another field here if your form already has one (the Setup snippets use it).</p>
              </div>
            )}
            <div class="grid-3">
              <div class="field">
                <label for="st-ip">IP addresses</label>
                <select id="st-ip" value={d.ip} onChange={set('ip')}>
                  <option value="hash">Keep a salted hash</option>
                  <option value="store">Store them</option>
                  <option value="drop">Drop them</option>
                </select>
              </div>
              <div class="field"><label for="st-rl">Rate limit per minute</label><input id="st-rl" type="number" min="0" value={d.rl_per_minute} onInput={set('rl_per_minute')} /></div>
              <div class="field"><label for="st-burst">Burst</label><input id="st-burst" type="number" min="0" value={d.rl_burst} onInput={set('rl_burst')} /></div>
            </div>
          </section>

          {forms && (
            <section class="card">
              <h3>Files</h3>
              <label class="check"><input type="checkbox" checked={d.files_enabled} onChange={set('files_enabled')} /> Accept file uploads</label>
              <div class="grid-3">
                <div class="field"><label for="st-fcount">Files per post</label><input id="st-fcount" type="number" min="0" max="100" value={d.files_max_count} onInput={set('files_max_count')} /></div>
                <div class="field">
                  <label for="st-fsize">Largest file (MiB)</label>
                  <input id="st-fsize" type="number" min="0" step="0.1" value={d.files_max_mib} onInput={set('files_max_mib')} />
                  {d.files_max_mib !== '' && <p class="hint">{bytes(Math.round(Number(d.files_max_mib) * MIB))}</p>}
                </div>
              </div>
            </section>
          )}

          {forms && (
            <section class="card">
              <h3>Notifications</h3>
              <div class="field">
                <label for="st-notify">Email each submission to</label>
                <textarea id="st-notify" rows={2} placeholder="team@example.com" value={d.notify} onInput={set('notify')} />
                <p class="hint">One address per line; never for spam.</p>
              </div>
              <div class="field">
                <label for="st-subject">Subject</label>
                <input id="st-subject" placeholder="New submission to {endpoint}" value={d.subject_template} onInput={set('subject_template')} />
                <p class="hint">{'{endpoint}'} and {'{id}'} are filled in; a _subject field wins.</p>
              </div>
              <label class="check"><input type="checkbox" checked={d.ar_enabled} onChange={set('ar_enabled')} /> Reply to the submitter automatically</label>
              {d.ar_enabled && (
                <>
                  <div class="field"><label for="st-ar-subject">Reply subject</label><input id="st-ar-subject" placeholder="Thank you for your submission" value={d.ar_subject} onInput={set('ar_subject')} /></div>
                  <div class="field"><label for="st-ar-text">Reply text</label><textarea id="st-ar-text" rows={4} required value={d.ar_text} onInput={set('ar_text')} /></div>
                </>
              )}
            </section>
          )}

          <section class="card">
            <h3>Data</h3>
            <div class="grid-3">
              <div class="field">
                <label for="st-ret">Keep submissions (days)</label>
                <input id="st-ret" type="number" min="0" max="3650" value={d.retention_days} onInput={set('retention_days')} />
                <p class="hint">0 keeps them; trash is emptied after 30 days.</p>
              </div>
              <div class="field">
                <label for="st-shard">Own database after</label>
                <input id="st-shard" type="number" min="0" value={d.shard_threshold} onInput={set('shard_threshold')} />
                <p class="hint">Submissions; 0: the server's default.</p>
              </div>
            </div>
            {ep.location && <p class="hint">Stored in: <code>{ep.location}</code></p>}
          </section>

          {Object.keys(d.extra).length > 0 && (
            <section class="card">
              <h3>Other settings</h3>
              {Object.entries(d.extra).map(([k, v]) => {
                const orig = (ep.settings || {})[k];
                const id = `st-x-${k}`;
                if (typeof orig === 'boolean') {
                  return <label key={k} class="check"><input type="checkbox" checked={!!v} onChange={(e) => setExtra(k, e.currentTarget.checked)} /> {k}</label>;
                }
                return (
                  <div key={k} class="field">
                    <label for={id}>{k}</label>
                    {typeof orig === 'object' && orig !== null
                      ? <textarea id={id} rows={3} class="mono" value={v} onInput={(e) => setExtra(k, e.currentTarget.value)} />
                      : <input id={id} type={typeof orig === 'number' ? 'number' : 'text'} value={v ?? ''} onInput={(e) => setExtra(k, e.currentTarget.value)} />}
                  </div>
                );
              })}
            </section>
          )}
        </fieldset>
        {error && <p class="field-error" role="alert">{error}</p>}
        {admin && (
          <div class="actions sticky-actions">
            <button type="button" class="btn" onClick={() => { setD(draftOf(ep)); setError(''); }}>Reset</button>
            <button type="submit" class="btn btn-primary" disabled={busy}>Save settings</button>
          </div>
        )}
      </form>
      {admin && (
        <section class="card danger-zone">
          <h3>Delete this endpoint</h3>
          <p class="muted">Its {ep.kind === 'events' ? 'issues and events' : 'submissions and files'} are erased with it.</p>
          <button type="button" class="btn btn-danger" onClick={() => setDeleting(true)}>Delete endpoint</button>
        </section>
      )}
      {deleting && (
        <Confirm title={`Delete “${ep.name}”?`} typed={ep.name} confirmLabel="Delete endpoint"
          message="This cannot be undone. Clients that still post get 404."
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            try {
              await del(`/endpoints/${ep.id}`);
              toast(`Deleted “${ep.name}”`);
              go(href());
            } catch (err) {
              showError(err);
              throw err;
            }
          }} />
      )}
    </div>
  );
}
