// An endpoint's webhooks: add, change, switch on and off, remove; each
// with its delivery log (status, latency, the answer's first bytes) and
// Redeliver. The signing secret is shown once, when the hook is made.
import { useEffect, useState } from 'preact/hooks';
import { get, post, patch, del } from '../core/api.js';
import { can } from '../core/session.js';
import { Loading, Empty, ErrorBox, Time, Badge } from '../ui/common.jsx';
import { Dialog, Confirm } from '../ui/dialog.jsx';
import { CopyButton } from '../ui/copy.jsx';
import { toast, showError } from '../ui/toast.jsx';

const EVENTS = {
  form: ['submission.created'],
  events: ['issue.created', 'issue.reopened'],
};

function HookDialog({ ep, hook, onClose, onSaved }) {
  const kinds = EVENTS[ep.kind === 'events' ? 'events' : 'form'];
  const [url, setUrl] = useState(hook ? hook.url : '');
  const [format, setFormat] = useState(hook ? hook.format : 'json');
  const [events, setEvents] = useState(hook ? hook.events : kinds);
  const [enabled, setEnabled] = useState(hook ? hook.enabled : true);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const body = { url: url.trim(), format, events };
      const saved = hook
        ? await patch(`/webhooks/${hook.id}`, { ...body, enabled })
        : await post(`/endpoints/${ep.id}/webhooks`, body);
      onSaved(saved, !hook);
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  const toggle = (k) => setEvents((l) => (l.includes(k) ? l.filter((x) => x !== k) : [...l, k]));
  return (
    <Dialog title={hook ? 'Edit webhook' : 'New webhook'} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="wh-url">URL</label>
          <input id="wh-url" type="url" required placeholder="https://example.com/hooks/inlet" value={url}
            onInput={(e) => setUrl(e.currentTarget.value)} autoFocus />
        </div>
        <div class="field">
          <label for="wh-format">Format</label>
          <select id="wh-format" value={format} onChange={(e) => setFormat(e.currentTarget.value)}>
            <option value="json">JSON (signed)</option>
            <option value="slack">Slack</option>
            <option value="discord">Discord</option>
          </select>
        </div>
        <fieldset class="field">
          <legend>Events</legend>
          {kinds.map((k) => (
            <label key={k} class="check"><input type="checkbox" checked={events.includes(k)} onChange={() => toggle(k)} /> <code>{k}</code></label>
          ))}
        </fieldset>
        {hook && <label class="check"><input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> Enabled</label>}
        {error && <p class="field-error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !events.length}>{hook ? 'Save' : 'Add webhook'}</button>
        </div>
      </form>
    </Dialog>
  );
}

function Deliveries({ hook, admin }) {
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const load = (after) => get(`/webhooks/${hook.id}/deliveries`, { limit: 20, cursor: after }).then((r) => {
    setRows((old) => (after && old ? [...old, ...r.data] : r.data));
    setCursor(r.next_cursor || null);
  }, setError);
  useEffect(() => { load(); }, [hook.id]);
  const redeliver = async (d) => {
    try {
      await post(`/deliveries/${d.id}/redeliver`, {});
      toast('Queued for delivery');
      setTimeout(() => load(), 1500);
    } catch (e) {
      showError(e);
    }
  };
  if (error) return <ErrorBox error={error} onRetry={() => load()} />;
  if (!rows) return <Loading />;
  if (!rows.length) return <p class="muted small">No deliveries yet.</p>;
  return (
    <>
      <div class="table-wrap">
        <table class="table table-compact deliveries">
          <thead>
            <tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col" class="num">Latency</th>
              <th scope="col">Answer</th>{admin && <th scope="col"><span class="sr-only">Actions</span></th>}</tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-id={d.id}>
                <td class="nowrap"><Time t={d.created_at} /></td>
                <td class="nowrap"><code>{d.event}</code>{d.attempt > 1 && <span class="muted small"> #{d.attempt}</span>}</td>
                <td><Badge kind={d.ok ? 'ok' : 'danger'}>{d.status ?? 'error'}</Badge></td>
                <td class="num nowrap">{d.latency_ms !== undefined ? `${d.latency_ms} ms` : '—'}</td>
                <td class="trunc excerpt" title={d.error || d.response}>{d.error || d.response || ''}</td>
                {admin && <td><button type="button" class="btn btn-sm" onClick={() => redeliver(d)}>Redeliver</button></td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && <button type="button" class="btn btn-sm" onClick={() => load(cursor)}>Older deliveries</button>}
    </>
  );
}

export function WebhooksPage({ ep }) {
  const admin = can('admin');
  const [hooks, setHooks] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null); // null | 'new' | hook
  const [removing, setRemoving] = useState(null);
  const [secret, setSecret] = useState(null);
  const [openLog, setOpenLog] = useState(null);

  const load = () => get(`/endpoints/${ep.id}/webhooks`).then((r) => setHooks(r.data), setError);
  useEffect(() => { load(); }, [ep.id]);

  const saved = (hook, created) => {
    setEditing(null);
    if (created && hook.secret) setSecret(hook);
    toast(created ? 'Webhook added' : 'Webhook saved');
    load();
  };

  return (
    <div>
      <div class="toolbar">
        <p class="muted">Inlet posts each new {ep.kind === 'events' ? 'issue' : 'submission'} to these URLs, signed with the hook's secret.</p>
        {admin && <div class="toolbar-end"><button type="button" class="btn btn-primary" onClick={() => setEditing('new')}>New webhook</button></div>}
      </div>
      <ErrorBox error={error} onRetry={load} />
      {!hooks && !error && <Loading />}
      {hooks && !hooks.length && <Empty title="No webhooks">Send submissions to Slack, Discord or your own service.</Empty>}
      {hooks && hooks.map((h) => (
        <section key={h.id} class="card hook" data-id={h.id}>
          <div class="card-head">
            <div class="hook-title">
              <code class="truncate">{h.url}</code>
              <div class="muted small">
                {h.format} · {(h.events || []).join(', ')}
                {h.failures > 0 && ` · ${h.failures} failures in a row`}
              </div>
            </div>
            <div class="actions">
              <Badge kind={h.enabled ? 'ok' : 'danger'}>{h.enabled ? 'enabled' : 'disabled'}</Badge>
              <button type="button" class="btn btn-sm" aria-expanded={openLog === h.id ? 'true' : 'false'}
                onClick={() => setOpenLog(openLog === h.id ? null : h.id)}>Deliveries</button>
              {admin && <button type="button" class="btn btn-sm" onClick={() => setEditing(h)}>Edit</button>}
              {admin && <button type="button" class="btn btn-sm btn-danger" onClick={() => setRemoving(h)}>Delete</button>}
            </div>
          </div>
          {h.disabled_reason && <p class="warn small">{h.disabled_reason}</p>}
          {openLog === h.id && <Deliveries hook={h} admin={admin} />}
        </section>
      ))}
      {editing && <HookDialog ep={ep} hook={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={saved} />}
      {removing && (
        <Confirm title="Delete this webhook?" message={`${removing.url} gets nothing more; its delivery log goes too.`}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            try { await del(`/webhooks/${removing.id}`); toast('Webhook deleted'); load(); } catch (e) { showError(e); throw e; }
          }} />
      )}
      {secret && (
        <Dialog title="Signing secret" onClose={() => setSecret(null)}>
          <div class="stack">
            <p>Deliveries carry <code>Inlet-Signature: t=…,v1=…</code>, an HMAC-SHA256 of <code>"t.body"</code> with this secret. It is shown only now.</p>
            <div class="secret"><code>{secret.secret}</code><CopyButton text={secret.secret} /></div>
            <div class="actions"><button type="button" class="btn btn-primary" onClick={() => setSecret(null)}>Done</button></div>
          </div>
        </Dialog>
      )}
    </div>
  );
}
