// Home: the account's endpoints with their count, last activity and the
// last 14 days, kept current by the live stream.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../core/api.js';
import { href, go } from '../core/router.js';
import { can } from '../core/session.js';
import { useLive } from '../core/live.js';
import { mapLimit } from '../core/tasks.js';
import { num } from '../core/format.js';
import { Loading, Empty, ErrorBox, Time, Badge, PageHead } from '../ui/common.jsx';
import { Sparkline } from '../ui/sparkline.jsx';
import { Dialog } from '../ui/dialog.jsx';
import { toast } from '../ui/toast.jsx';

const DAYS = 14;

/** The figure an endpoint's day is counted in. */
export const dailyKey = (ep) => (ep.kind === 'events' ? 'events' : 'submissions');

/** Last activity and the 14-day series of one endpoint. */
async function figures(ep) {
  const key = dailyKey(ep);
  const [stats, last] = await Promise.all([
    get(`/endpoints/${ep.id}/stats`, { days: DAYS }).catch(() => null),
    lastActivity(ep),
  ]);
  const series = stats ? stats.data.map((d) => Number(d[key]) || 0) : null;
  return { series, last };
}

/** Forms carry last_submission_at, events endpoints last_event_at. */
function lastActivity(ep) {
  return ep.kind === 'events' ? ep.last_event_at : ep.last_submission_at;
}

export function EndpointsPage() {
  const [list, setList] = useState(null);
  const [extra, setExtra] = useState({});
  const [error, setError] = useState(null);
  const [creating, setCreating] = useState(false);

  const load = async () => {
    setError(null);
    try {
      const r = await get('/endpoints');
      setList(r.data);
      const figs = await mapLimit(r.data, 4, figures);
      const byId = {};
      r.data.forEach((ep, i) => { byId[ep.id] = figs[i] || {}; });
      setExtra(byId);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => { load(); }, []);

  // The stream names the endpoint by id; counts move without a reload.
  const bump = (epId) => {
    setList((l) => l && l.map((ep) => (ep.id === epId ? { ...ep, submission_count: (ep.submission_count || 0) + 1 } : ep)));
    setExtra((x) => {
      const cur = x[epId] || {};
      const s = cur.series;
      const series = s && s.length ? [...s.slice(0, -1), s[s.length - 1] + 1] : s;
      return { ...x, [epId]: { ...cur, series, last: new Date().toISOString(), fresh: Date.now() } };
    });
  };
  useLive((type, data) => {
    if (type === 'submission.created') bump(data.endpoint);
    else if ((type === 'issue.created' || type === 'issue.updated') && data.endpoint) {
      setExtra((x) => ({ ...x, [data.endpoint]: { ...(x[data.endpoint] || {}), last: data.last_seen || Date.now() } }));
    } else if (type === 'reset') load();
  });

  return (
    <>
      <PageHead title="Endpoints" sub="Where your forms post and your apps send their errors.">
        {can('admin') && <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>New endpoint</button>}
      </PageHead>
      <ErrorBox error={error} onRetry={load} />
      {!list && !error && <Loading />}
      {list && !list.length && (
        <Empty title="No endpoints yet">
          {can('admin') ? 'Create one for a form or for the error events of an app.' : 'An admin of this account can create one.'}
        </Empty>
      )}
      {list && list.length > 0 && (
        <div class="table-wrap">
          <table class="table cards-sm endpoints">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col" class="num">Count</th>
                <th scope="col">Last</th><th scope="col">Last {DAYS} days</th></tr>
            </thead>
            <tbody>
              {list.map((ep) => {
                const x = extra[ep.id] || {};
                const total = x.series ? x.series.reduce((a, b) => a + b, 0) : null;
                const count = ep.kind === 'events' ? (ep.event_count ?? total) : ep.submission_count;
                return (
                  <tr key={ep.id} data-id={ep.id} class={x.fresh ? 'fresh' : undefined}>
                    <td data-label="Name"><a class="strong" href={href('e', ep.id)}>{ep.name}</a></td>
                    <td data-label="Kind"><Badge kind={ep.kind === 'events' ? 'accent' : 'neutral'}>{ep.kind === 'events' ? 'events' : 'form'}</Badge></td>
                    <td data-label="Count" class="num">
                      <span title={ep.kind === 'events' && ep.event_count === undefined ? `events in the last ${DAYS} days` : undefined}>
                        {count === null || count === undefined ? '—' : num(count)}
                        {ep.kind === 'events' && ep.event_count === undefined && total !== null && <span class="muted small"> / {DAYS} d</span>}
                      </span>
                    </td>
                    <td data-label="Last"><Time t={x.last} /></td>
                    <td data-label={`Last ${DAYS} days`}>
                      <Sparkline values={x.series} label={`${num(total)} ${dailyKey(ep)} in the last ${DAYS} days`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {creating && <NewEndpointDialog onClose={() => setCreating(false)} />}
    </>
  );
}

function NewEndpointDialog({ onClose }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState('form');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const ep = await post('/endpoints', { name: name.trim(), kind });
      toast(`Endpoint “${ep.name}” created`);
      onClose();
      go(href('e', ep.id, 'setup'));
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return (
    <Dialog title="New endpoint" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="ep-name">Name</label>
          <input id="ep-name" name="name" required value={name} placeholder="Contact form"
            onInput={(e) => setName(e.currentTarget.value)} autoFocus />
        </div>
        <fieldset class="field">
          <legend>Kind</legend>
          <div class="choices">
            <label class="choice">
              <input type="radio" name="kind" value="form" checked={kind === 'form'} onChange={() => setKind('form')} />
              <span><strong>Form</strong><span class="muted small">HTML forms, fetch, Formspree clients</span></span>
            </label>
            <label class="choice">
              <input type="radio" name="kind" value="events" checked={kind === 'events'} onChange={() => setKind('events')} />
              <span><strong>Events</strong><span class="muted small">Errors from Sentry SDKs, TrackX, browser reports</span></span>
            </label>
          </div>
        </fieldset>
        {error && <p class="field-error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !name.trim()}>Create endpoint</button>
        </div>
      </form>
    </Dialog>
  );
}
