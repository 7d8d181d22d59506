// The account and the user: usage, sessions (where you are logged in, with
// revoke) and the background jobs (exports, imports) with their progress.
import { useEffect, useState } from 'preact/hooks';
import { get, del, linkUrl } from '../core/api.js';
import { num } from '../core/format.js';
import { logout } from '../core/session.js';
import { Loading, ErrorBox, Time, Badge, PageHead, Empty } from '../ui/common.jsx';
import { toast, showError } from '../ui/toast.jsx';

const JOB_KIND = { done: 'ok', dead: 'danger', cancelled: 'neutral', running: 'accent', queued: 'neutral' };

/** "Chrome 156 on Linux" from a user agent, enough to tell sessions apart. */
const BROWSERS = [['Edge', /Edg\/(\d+)/], ['Firefox', /Firefox\/(\d+)/], ['Chrome', /Chrom(?:e|ium)\/(\d+)/], ['Safari', /Version\/(\d+).*Safari/]];
const SYSTEMS = [['Windows', /Windows/], ['Android', /Android/], ['iOS', /iPhone|iPad/], ['macOS', /Mac OS X/], ['Linux', /Linux/]];

function device(ua = '') {
  let b = '';
  for (const [name, re] of BROWSERS) {
    const m = re.exec(ua);
    if (m) { b = `${name} ${m[1]}`; break; }
  }
  const os = (SYSTEMS.find(([, re]) => re.test(ua)) || [''])[0];
  return [b, os].filter(Boolean).join(' on ') || ua || 'Unknown device';
}

function Usage() {
  const [account, setAccount] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { get('/account').then(setAccount, setError); }, []);
  if (error) return <ErrorBox error={error} />;
  if (!account) return <Loading />;
  const u = account.usage || {};
  const m = u.this_month || {};
  const plural = (n, one, many) => `${num(n)} ${n === 1 ? one : many}`;
  const tiles = [
    ['Endpoints', u.endpoints, u.forms !== undefined && `${plural(u.forms, 'form', 'forms')} · ${plural(u.projects || 0, 'events', 'events')}`],
    ['Submissions stored', u.stored],
    ['Submissions this month', m.submissions],
    ['Spam this month', m.spam],
    ['Page views this month', m.views],
    ['Events this month', m.events],
    ['API requests this month', m.api],
  ].filter(([, v]) => typeof v === 'number');
  return (
    <section class="card">
      <h2>{account.name}</h2>
      <p class="muted small">Account <code>{account.id}</code>, created <Time t={account.created_at} relative={false} /></p>
      {tiles.length > 0 && (
        <dl class="tiles usage">
          {tiles.map(([label, v, sub]) => (
            <div key={label} class="tile"><dt>{label}</dt><dd>{num(v)}{sub && <span class="muted small tile-sub">{sub}</span>}</dd></div>
          ))}
        </dl>
      )}
    </section>
  );
}

function Sessions() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const load = () => get('/auth/sessions').then((r) => setRows(r.data), setError);
  useEffect(() => { load(); }, []);
  const revoke = async (s) => {
    if (s.current) { logout(); return; }
    try {
      await del(`/auth/sessions/${s.id}`);
      toast('Session ended');
      load();
    } catch (e) {
      showError(e);
    }
  };
  return (
    <section class="section">
      <h2>Your sessions</h2>
      <ErrorBox error={error} onRetry={load} />
      {!rows && !error && <Loading />}
      {rows && (
        <div class="table-wrap">
          <table class="table cards-sm">
            <thead><tr><th scope="col">Device</th><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.id} data-id={s.id}>
                  <td data-label="Device"><span title={s.user_agent}>{device(s.user_agent)}</span> {s.current && <Badge kind="accent">this one</Badge>}</td>
                  <td data-label="Started"><Time t={s.created_at} /></td>
                  <td data-label="Last seen"><Time t={s.last_seen_at} /></td>
                  <td class="right"><button type="button" class="btn btn-sm" onClick={() => revoke(s)}>{s.current ? 'Log out' : 'Revoke'}</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Jobs() {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const load = () => get('/jobs', { limit: 50 }).then((r) => setRows(r.data), setError);
  useEffect(() => { load(); }, []);
  // Running jobs move: look again while one is under way.
  const busy = rows && rows.some((j) => j.state === 'queued' || j.state === 'running');
  useEffect(() => {
    if (!busy) return undefined;
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [busy]);
  return (
    <section class="section">
      <div class="section-head">
        <h2>Jobs</h2>
        <button type="button" class="btn btn-sm" onClick={load}>Refresh</button>
      </div>
      <ErrorBox error={error} onRetry={load} />
      {!rows && !error && <Loading />}
      {rows && !rows.length && <Empty title="No jobs">Large exports and imports run here.</Empty>}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table class="table cards-sm jobs">
            <thead><tr><th scope="col">Job</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Note</th></tr></thead>
            <tbody>
              {rows.map((j) => (
                <tr key={j.id} data-id={j.id}>
                  <td data-label="Job"><code>{j.kind}</code> <span class="muted small">#{j.id}</span></td>
                  <td data-label="State"><Badge kind={JOB_KIND[j.state]}>{j.state}</Badge></td>
                  <td data-label="Progress">
                    {j.total > 0
                      ? <><progress max={j.total} value={Math.min(j.progress || 0, j.total)} /> <span class="small muted">{num(j.progress || 0)} / {num(j.total)}</span></>
                      : j.progress ? num(j.progress) : <span class="muted">—</span>}
                  </td>
                  <td data-label="Created"><Time t={j.created_at} /></td>
                  <td data-label="Note" class="trunc muted">
                    {j.ref && j.state === 'done' && j.kind === 'export.run'
                      ? <a href={linkUrl(`/exports/${j.ref}/file`)} download>Download</a>
                      : j.last_error || (j.attempts > 1 ? `attempt ${j.attempts} of ${j.max_attempts}` : '')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function AccountPage() {
  return (
    <>
      <PageHead title="Account" sub="Usage, your sessions and background jobs." />
      <Usage />
      <Sessions />
      <Jobs />
    </>
  );
}
