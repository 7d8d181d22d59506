// Daily counters as charts, for one endpoint or for the whole account,
// over 7, 30 or 90 days. Forms: submissions, the spam among them, page
// views (pinged by inlet.js) and the conversion views → submissions.
// Events endpoints: events, session pings, reports, ignored and refused
// requests. Counters the server adds later show up as extra charts.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from '../core/api.js';
import { num, pct } from '../core/format.js';
import { Loading, ErrorBox, Segmented, PageHead } from '../ui/common.jsx';
import { Chart, dayX } from '../ui/chart.jsx';

const RANGES = [{ value: 7, label: '7 days' }, { value: 30, label: '30 days' }, { value: 90, label: '90 days' }];
const LABELS = {
  submissions: 'Submissions', spam: 'Spam', views: 'Views', events: 'Events', pings: 'Session pings',
  reports: 'Reports', ignored: 'Ignored (dropped)', api: 'API requests',
};

const sum = (rows, k) => rows.reduce((a, r) => a + (Number(r[k]) || 0), 0);
const col = (rows, k) => rows.map((r) => Number(r[k]) || 0);
const ratio = (a, b) => a.map((v, i) => (b[i] > 0 ? v / b[i] : null));

/** Every numeric counter in the rows, in a stable order. */
function counters(rows) {
  const keys = new Set();
  for (const r of rows) for (const [k, v] of Object.entries(r)) if (typeof v === 'number') keys.add(k);
  const known = Object.keys(LABELS).filter((k) => keys.has(k));
  return [...known, ...[...keys].filter((k) => !LABELS[k]).sort()];
}

function Tiles({ items }) {
  return (
    <dl class="tiles">
      {items.map((t) => <div key={t.label} class="tile"><dt>{t.label}</dt><dd>{t.value}</dd></div>)}
    </dl>
  );
}

function useStats(path, days) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const load = () => {
    setError(null);
    get(path, { days }).then((r) => setRows(r.data || []), setError);
  };
  useEffect(() => { setRows(null); load(); }, [path, days]);
  return { rows, error, load };
}

function FormCharts({ rows }) {
  const x = useMemo(() => dayX(rows), [rows]);
  const subs = col(rows, 'submissions');
  const spam = col(rows, 'spam');
  const views = col(rows, 'views');
  const total = sum(rows, 'submissions');
  const spamTotal = sum(rows, 'spam');
  const viewTotal = sum(rows, 'views');
  const charts = useMemo(() => ({
    subs: [{ label: 'Submissions', values: subs, bars: true }],
    spam: [{ label: 'Spam rate', values: ratio(spam, subs), fmt: pct }],
    views: [{ label: 'Views', values: views, bars: true }],
    conv: [{ label: 'Conversion', values: ratio(subs, views), fmt: pct }],
  }), [rows]);
  return (
    <>
      <Tiles items={[
        { label: 'Submissions', value: num(total) },
        { label: 'Spam', value: total ? pct(spamTotal / total) : '—' },
        { label: 'Views', value: viewTotal ? num(viewTotal) : '—' },
        { label: 'Conversion', value: viewTotal ? pct(total / viewTotal) : '—' },
      ]} />
      <div class="chart-grid">
        <Chart title="Submissions per day" x={x} series={charts.subs} utcDays summary={`${total} submissions`} />
        <Chart title="Spam rate" x={x} series={charts.spam} utcDays yFmt={pct} summary={`${spamTotal} of ${total} were spam`} />
        {viewTotal > 0 && <Chart title="Views per day" x={x} series={charts.views} utcDays summary={`${viewTotal} page views`} />}
        {viewTotal > 0 && <Chart title="Conversion (submissions / views)" x={x} series={charts.conv} utcDays yFmt={pct}
          summary={`${pct(total / viewTotal)} of views led to a submission`} />}
      </div>
      {!total && !viewTotal && <p class="muted small">No submissions in this range yet.</p>}
    </>
  );
}

/** One chart per counter that has any figure (events endpoints, the account). */
function CounterCharts({ rows, skip = [] }) {
  const x = useMemo(() => dayX(rows), [rows]);
  const keys = counters(rows).filter((k) => !skip.includes(k));
  const shown = keys.filter((k) => sum(rows, k) > 0);
  const series = useMemo(() => Object.fromEntries(keys.map((k) => [k, [{ label: LABELS[k] || k, values: col(rows, k), bars: true }]])), [rows]);
  const denied = {};
  for (const r of rows) for (const [k, v] of Object.entries(r.denied || {})) denied[k] = (denied[k] || 0) + v;
  return (
    <>
      <Tiles items={keys.map((k) => ({ label: LABELS[k] || k, value: num(sum(rows, k)) }))} />
      <div class="chart-grid">
        {shown.map((k) => <Chart key={k} title={`${LABELS[k] || k} per day`} x={x} series={series[k]} utcDays summary={`${sum(rows, k)} ${LABELS[k] || k}`} />)}
      </div>
      {!shown.length && <p class="muted small">Nothing counted in this range yet.</p>}
      {Object.keys(denied).length > 0 && (
        <section class="card">
          <h3>Refused requests</h3>
          <table class="table table-compact">
            <thead><tr><th scope="col">Reason</th><th scope="col" class="num">Requests</th></tr></thead>
            <tbody>{Object.entries(denied).sort((a, b) => b[1] - a[1]).map(([k, v]) => <tr key={k}><td>{k.replace(/_/g, ' ')}</td><td class="num">{num(v)}</td></tr>)}</tbody>
          </table>
        </section>
      )}
    </>
  );
}

export function EndpointAnalytics({ ep }) {
  const [days, setDays] = useState(30);
  const { rows, error, load } = useStats(`/endpoints/${ep.id}/stats`, days);
  return (
    <div class="analytics">
      <div class="toolbar"><Segmented label="Range" value={days} options={RANGES} onChange={setDays} /></div>
      <ErrorBox error={error} onRetry={load} />
      {!rows && !error && <Loading />}
      {rows && (ep.kind === 'events' ? <CounterCharts rows={rows} /> : <FormCharts rows={rows} />)}
    </div>
  );
}

export function AccountAnalyticsPage() {
  const [days, setDays] = useState(30);
  const { rows, error, load } = useStats('/stats', days);
  const hasForms = rows && rows.some((r) => typeof r.submissions === 'number');
  return (
    <>
      <PageHead title="Analytics" sub="Every endpoint of the account together, by day (UTC).">
        <Segmented label="Range" value={days} options={RANGES} onChange={setDays} />
      </PageHead>
      <ErrorBox error={error} onRetry={load} />
      {!rows && !error && <Loading />}
      {rows && hasForms && <FormCharts rows={rows} />}
      {rows && <CounterCharts rows={rows} skip={hasForms ? ['submissions', 'spam', 'views'] : []} />}
    </>
  );
}
