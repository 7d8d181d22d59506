// One stored event, opened: the exception and its frames, breadcrumbs,
// tags, the request, attachments, and the event as it was sent. It reads
// the three shapes Inlet keeps: Sentry events, TrackX events and browser
// reports (CSP, Reporting API).
import { useEffect, useState } from 'preact/hooks';
import { get, linkUrl } from '../core/api.js';
import { bytes, dateTime, text } from '../core/format.js';
import { Loading, ErrorBox, Time } from '../ui/common.jsx';

function Frames({ frames }) {
  // Sentry sends the oldest frame first; the crash site reads best on top.
  const list = [...frames].reverse();
  return (
    <ol class="frames">
      {list.map((f, i) => (
        <li key={i} class={f.in_app === false ? 'frame lib' : 'frame'}>
          <div class="frame-loc">
            <code>{f.function || '?'}</code>
            <span class="muted"> {f.filename || f.abs_path || f.module || ''}{f.lineno ? `:${f.lineno}` : ''}{f.colno ? `:${f.colno}` : ''}</span>
          </div>
          {f.context_line !== undefined && (
            <pre class="frame-src">
              {(f.pre_context || []).map((l, k) => <span key={`p${k}`} class="ctx">{l}{'\n'}</span>)}
              <span class="hit">{f.context_line}{'\n'}</span>
              {(f.post_context || []).map((l, k) => <span key={`n${k}`} class="ctx">{l}{'\n'}</span>)}
            </pre>
          )}
        </li>
      ))}
    </ol>
  );
}

function exceptionsOf(d) {
  const ex = d.exception && (Array.isArray(d.exception) ? d.exception : d.exception.values);
  return Array.isArray(ex) ? [...ex].reverse() : [];
}

function breadcrumbsOf(d) {
  const b = d.breadcrumbs && (Array.isArray(d.breadcrumbs) ? d.breadcrumbs : d.breadcrumbs.values);
  return Array.isArray(b) ? b : [];
}

function tagsOf(d) {
  if (Array.isArray(d.tags)) return d.tags.filter((t) => Array.isArray(t)).map(([k, v]) => [k, v]);
  if (d.tags && typeof d.tags === 'object') return Object.entries(d.tags);
  return [];
}

function KV({ obj }) {
  const rows = Object.entries(obj || {}).filter(([, v]) => v !== null && v !== undefined && v !== '');
  if (!rows.length) return <p class="muted">None.</p>;
  return <dl class="kv kv-small">{rows.map(([k, v]) => <div key={k}><dt>{k}</dt><dd class="prewrap">{text(v)}</dd></div>)}</dl>;
}

function crumbTime(t) {
  if (typeof t === 'number') return dateTime(t < 1e12 ? t * 1000 : t);
  return t ? dateTime(t) : '';
}

export function EventView({ id, onGo }) {
  const [ev, setEv] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setEv(null);
    setError(null);
    get(`/events/${id}`).then(setEv, setError);
  }, [id]);

  if (error) return <ErrorBox error={error} />;
  if (!ev) return <Loading />;
  const d = ev.data || {};
  const exceptions = exceptionsOf(d);
  const crumbs = breadcrumbsOf(d);
  const tags = tagsOf(d);
  const report = d['csp-report'] || (ev.kind === 'report' ? (d.body || d) : null);
  const nav = [['first', 'First'], ['previous', 'Previous'], ['next', 'Next'], ['last', 'Last']];

  return (
    <div class="event">
      <div class="event-nav" role="group" aria-label="Events of this issue">
        {nav.map(([k, label]) => (
          <button key={k} type="button" class="btn btn-sm" disabled={!ev[k] || ev[k] === ev.id} onClick={() => onGo(ev[k])}>{label}</button>
        ))}
        <span class="muted small">Received <Time t={ev.received} relative={false} /></span>
      </div>
      <dl class="stats-row small">
        {ev.level && <div><dt>Level</dt><dd>{ev.level}</dd></div>}
        {ev.release && <div><dt>Release</dt><dd><code>{ev.release}</code></dd></div>}
        {ev.environment && <div><dt>Environment</dt><dd>{ev.environment}</dd></div>}
        {ev.uri && <div><dt>URL</dt><dd class="truncate"><code>{ev.uri}</code></dd></div>}
        {ev.event_id && <div><dt>Event id</dt><dd><code>{ev.event_id}</code></dd></div>}
      </dl>

      {exceptions.map((x, i) => (
        <section key={i} class="exception">
          <h4><span class="exc-type">{x.type || 'Error'}</span>{x.value ? `: ${x.value}` : ''}</h4>
          {x.stacktrace && x.stacktrace.frames && <Frames frames={x.stacktrace.frames} />}
        </section>
      ))}
      {!exceptions.length && ev.kind === 'trackx' && (
        <section class="exception">
          <h4><span class="exc-type">{d.name || 'Error'}</span>{d.message ? `: ${d.message}` : ''}</h4>
          {d.stack && <pre class="stack">{d.stack}</pre>}
          {d.meta && <><h5>Meta</h5><KV obj={d.meta} /></>}
        </section>
      )}
      {!exceptions.length && d.message && ev.kind === 'sentry' && (
        <section><h4>Message</h4><p class="prewrap">{typeof d.message === 'string' ? d.message : text(d.message)}</p></section>
      )}
      {report && <section><h4>Report</h4><KV obj={report} /></section>}

      {crumbs.length > 0 && (
        <section>
          <h4>Breadcrumbs</h4>
          <div class="table-wrap">
            <table class="table table-compact">
              <thead><tr><th scope="col">Time</th><th scope="col">Category</th><th scope="col">Message</th><th scope="col">Level</th></tr></thead>
              <tbody>
                {crumbs.slice(-50).map((c, i) => (
                  <tr key={i}>
                    <td class="nowrap muted">{crumbTime(c.timestamp)}</td>
                    <td>{c.category || c.type || ''}</td>
                    <td class="prewrap">{c.message || (c.data ? text(c.data) : '')}</td>
                    <td>{c.level || ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {tags.length > 0 && (
        <section>
          <h4>Tags</h4>
          <ul class="tags">{tags.map(([k, v]) => <li key={k}><span class="muted">{k}</span> {text(v)}</li>)}</ul>
        </section>
      )}
      {d.request && (
        <section>
          <h4>Request</h4>
          <p><code>{d.request.method || 'GET'} {d.request.url || ''}</code></p>
          {d.request.headers && <KV obj={d.request.headers} />}
        </section>
      )}
      {(d.user || d.contexts) && (
        <section>
          <h4>Context</h4>
          {d.user && <KV obj={d.user} />}
          {d.contexts && Object.entries(d.contexts).map(([k, v]) => (
            <details key={k}><summary>{k}</summary><KV obj={v} /></details>
          ))}
        </section>
      )}
      {ev.meta && Object.keys(ev.meta).length > 0 && <section><h4>Received from</h4><KV obj={ev.meta} /></section>}
      {ev.attachments && ev.attachments.length > 0 && (
        <section>
          <h4>Attachments</h4>
          <ul class="files">
            {ev.attachments.map((a, n) => (
              <li key={n}>
                <a href={linkUrl(`/events/${ev.id}/attachments/${n}`)} download={a.name || a.filename || ''}>{a.name || a.filename || `attachment ${n + 1}`}</a>
                <span class="muted small"> {bytes(a.size)}{a.content_type ? ` · ${a.content_type}` : ''}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      <details class="raw">
        <summary>Event as sent</summary>
        <pre class="json">{JSON.stringify(d, null, 2)}</pre>
      </details>
    </div>
  );
}
