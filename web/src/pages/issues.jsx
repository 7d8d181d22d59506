// An events endpoint's issues: search, state and order, pages by cursor;
// the live stream adds new issues and moves counts.
import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../core/api.js';
import { href } from '../core/router.js';
import { useLive } from '../core/live.js';
import { num } from '../core/format.js';
import { Loading, Empty, ErrorBox, Time, Badge } from '../ui/common.jsx';

export const STATE_KIND = { open: 'warn', resolved: 'ok', ignored: 'neutral' };

export function IssuesPage({ ep }) {
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [state, setState] = useState('open');
  const [sort, setSort] = useState('last_seen');
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const reloadTimer = useRef(null);

  const load = async (after = null) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const r = await get(`/endpoints/${ep.id}/issues`, { q, state, sort, limit: 50, cursor: after });
      if (mine !== seq.current) return;
      setRows((old) => (after && old ? [...old, ...r.data] : r.data));
      setCursor(r.next_cursor || null);
    } catch (e) {
      if (mine === seq.current) setError(e);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };
  useEffect(() => { setRows(null); load(); }, [ep.id, q, state, sort]);
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), 350);
    return () => clearTimeout(t);
  }, [search]);

  useLive((type, data) => {
    if (type === 'reset') { load(); return; }
    if (!type.startsWith('issue.') || (data.endpoint !== ep.id && data.endpoint !== ep.key)) return;
    const known = rows && rows.find((r) => r.id === data.id);
    if (known && type === 'issue.updated') {
      setRows((old) => old.map((r) => (r.id === data.id
        ? { ...r, count: data.count ?? r.count, last_seen: data.last_seen ?? r.last_seen, state: data.state || r.state, fresh: Date.now() }
        : r)));
      return;
    }
    // A new issue, or one this page does not show yet: read the list again
    // once the burst is over.
    clearTimeout(reloadTimer.current);
    reloadTimer.current = setTimeout(() => load(), 800);
  });
  useEffect(() => () => clearTimeout(reloadTimer.current), []);

  return (
    <div>
      <div class="toolbar">
        <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setQ(search.trim()); }}>
          <label for="issues-q" class="sr-only">Search issues</label>
          <input id="issues-q" type="search" placeholder="Search title or culprit…" value={search}
            onInput={(e) => setSearch(e.currentTarget.value)} />
        </form>
        <label class="inline-field">State
          <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="open">Open</option>
            <option value="resolved">Resolved</option>
            <option value="ignored">Ignored</option>
            <option value="">All</option>
          </select>
        </label>
        <label class="inline-field">Sort
          <select value={sort} onChange={(e) => setSort(e.currentTarget.value)}>
            <option value="last_seen">Last seen</option>
            <option value="first_seen">First seen</option>
            <option value="events">Events</option>
            <option value="sessions">Users</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error} onRetry={() => load()} />
      {!rows && !error && <Loading />}
      {rows && !rows.length && (
        <Empty title={q ? 'No issue matches' : state === 'open' ? 'No open issues' : 'No issues'}>
          {!q && <>Send errors with the snippets of the <a href={href('e', ep.id, 'setup')}>Setup</a> tab.</>}
        </Empty>
      )}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table class="table cards-sm issues-table">
            <thead>
              <tr><th scope="col">Issue</th><th scope="col" class="num">Events</th><th scope="col" class="num">Users</th>
                <th scope="col">Last seen</th><th scope="col">State</th></tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id} data-id={i.id} class={i.fresh ? 'fresh' : undefined}>
                  <td data-label="Issue" class="issue-cell">
                    <a class="strong" href={href('e', ep.id, 'issues', i.id)}>{i.title || '(no title)'}</a>
                    <div class="muted small truncate">{i.culprit || i.uri || ''}{i.level ? ` · ${i.level}` : ''}</div>
                  </td>
                  <td data-label="Events" class="num">{num(i.count)}</td>
                  <td data-label="Users" class="num">{num(i.sessions)}</td>
                  <td data-label="Last seen"><Time t={i.last_seen} /></td>
                  <td data-label="State"><Badge kind={STATE_KIND[i.state]}>{i.state}</Badge></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows && cursor && (
        <div class="more"><button type="button" class="btn" disabled={loading} onClick={() => load(cursor)}>Load more</button></div>
      )}
    </div>
  );
}
