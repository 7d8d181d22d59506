// One issue: its figures, its events over time (uPlot), the state actions,
// and its events one at a time with previous / next.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, patch } from '../core/api.js';
import { href } from '../core/router.js';
import { can } from '../core/session.js';
import { useLive } from '../core/live.js';
import { num } from '../core/format.js';
import { Loading, ErrorBox, Time, Badge, Segmented } from '../ui/common.jsx';
import { Chart } from '../ui/chart.jsx';
import { toast, showError } from '../ui/toast.jsx';
import { STATE_KIND } from './issues.jsx';
import { EventView } from './event.jsx';

const RANGES = {
  '24h': { interval: 'hour', ms: 24 * 3600e3, step: 3600e3 },
  '30d': { interval: 'day', ms: 30 * 86400e3, step: 86400e3 },
};

/** The graph's points with the empty buckets filled, for an honest line. */
function filled(points, range) {
  const { ms, step } = RANGES[range];
  const end = Math.floor(Date.now() / step) * step;
  const byT = new Map(points.map((p) => [Math.floor(p.t / step) * step, p.count]));
  const x = [];
  const y = [];
  for (let t = end - ms + step; t <= end; t += step) {
    x.push(t / 1000);
    y.push(byT.get(t) || 0);
  }
  return { x, y };
}

export function IssuePage({ ep, id }) {
  const [issue, setIssue] = useState(null);
  const [error, setError] = useState(null);
  const [range, setRange] = useState('24h');
  const [graph, setGraph] = useState(null);
  const [events, setEvents] = useState(null);
  const [eventId, setEventId] = useState(null);

  const load = () => get(`/issues/${id}`).then((i) => {
    setIssue(i);
    setEventId((cur) => cur || i.last_event || null);
  }, setError);
  const loadEvents = () => get(`/issues/${id}/events`, { limit: 20 }).then((r) => {
    setEvents(r.data);
    setEventId((cur) => cur || (r.data[0] && r.data[0].id) || null);
  }, () => setEvents([]));
  useEffect(() => { load(); loadEvents(); }, [id]);
  useEffect(() => {
    setGraph(null);
    get(`/issues/${id}/graph`, { interval: RANGES[range].interval, from: Date.now() - RANGES[range].ms })
      .then((g) => setGraph(g.data || []), () => setGraph([]));
  }, [id, range]);

  useLive((type, data) => {
    if ((type === 'issue.updated' || type === 'issue.created') && data.id === id) { load(); loadEvents(); }
  });

  const series = useMemo(() => {
    if (!graph) return null;
    const { x, y } = filled(graph, range);
    return { x, s: [{ label: 'Events', values: y, bars: true }] };
  }, [graph, range]);

  const setState = async (state) => {
    try {
      setIssue(await patch(`/issues/${id}`, { state }));
      toast(state === 'open' ? 'Issue reopened' : `Issue ${state}`);
    } catch (e) {
      showError(e);
    }
  };

  if (error) return <ErrorBox error={error} onRetry={() => { setError(null); load(); }} />;
  if (!issue) return <Loading />;
  return (
    <div class="issue">
      <nav class="crumbs" aria-label="Issue"><a href={href('e', ep.id, 'issues')}>← All issues</a></nav>
      <div class="issue-head">
        <div>
          <h2>{issue.title || '(no title)'}</h2>
          <p class="muted">{issue.culprit || issue.uri || ''}</p>
        </div>
        {can('member') && (
          <div class="actions">
            {issue.state !== 'resolved' && <button type="button" class="btn" onClick={() => setState('resolved')}>Resolve</button>}
            {issue.state !== 'ignored' && <button type="button" class="btn" onClick={() => setState('ignored')}>Ignore</button>}
            {issue.state !== 'open' && <button type="button" class="btn" onClick={() => setState('open')}>Reopen</button>}
          </div>
        )}
      </div>
      <dl class="stats-row">
        <div><dt>State</dt><dd><Badge kind={STATE_KIND[issue.state]}>{issue.state}</Badge></dd></div>
        <div><dt>Events</dt><dd>{num(issue.count)}</dd></div>
        <div><dt>Users</dt><dd>{num(issue.sessions)}</dd></div>
        {issue.dropped > 0 && <div><dt>Dropped</dt><dd>{num(issue.dropped)}</dd></div>}
        <div><dt>First seen</dt><dd><Time t={issue.first_seen} /></dd></div>
        <div><dt>Last seen</dt><dd><Time t={issue.last_seen} /></dd></div>
        {issue.level && <div><dt>Level</dt><dd>{issue.level}</dd></div>}
        {issue.release && <div><dt>Release</dt><dd><code>{issue.release}</code></dd></div>}
        {issue.environment && <div><dt>Environment</dt><dd>{issue.environment}</dd></div>}
      </dl>
      <section class="card">
        <div class="card-head">
          <h3>Events over time</h3>
          <Segmented label="Range" value={range} onChange={setRange}
            options={[{ value: '24h', label: '24 hours' }, { value: '30d', label: '30 days' }]} />
        </div>
        {series ? <Chart x={series.x} series={series.s} height={160} step={RANGES[range].step / 1000}
          summary={`${series.s[0].values.reduce((a, b) => a + b, 0)} events in the last ${range === '24h' ? '24 hours' : '30 days'}`} /> : <Loading />}
      </section>
      <section class="card">
        <div class="card-head">
          <h3>Event</h3>
          {events && events.length > 1 && (
            <label class="inline-field">
              <span class="sr-only">Pick an event</span>
              <select value={eventId || ''} onChange={(e) => setEventId(e.currentTarget.value)}>
                {events.map((e) => <option key={e.id} value={e.id}>{new Date(e.received).toLocaleString()} {e.release ? `· ${e.release}` : ''}</option>)}
              </select>
            </label>
          )}
        </div>
        {eventId ? <EventView id={eventId} onGo={setEventId} /> : <p class="muted">No stored event.</p>}
      </section>
    </div>
  );
}
