// A form endpoint's submissions: status tabs, search, a date range, pages
// by cursor, selection with bulk actions, export, and the detail panel.
// New submissions arrive through the live stream without a reload.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, patch, del, linkUrl } from '../core/api.js';
import { href, go } from '../core/router.js';
import { can } from '../core/session.js';
import { useLive } from '../core/live.js';
import { text } from '../core/format.js';
import { Loading, Empty, ErrorBox, Time, Segmented } from '../ui/common.jsx';
import { Menu } from '../ui/menu.jsx';
import { Confirm } from '../ui/dialog.jsx';
import { toast, showError } from '../ui/toast.jsx';
import { SubmissionPanel, STATUS_LABEL } from './submission.jsx';

const STATUSES = ['inbox', 'spam', 'trash'];
const PAGE = 50;
const MAX_COLUMNS = 4;

/** Local calendar days of <input type=date> as the API's instants (unix ms). */
const dayStart = (d) => (d ? String(new Date(`${d}T00:00:00`).getTime()) : '');
const dayAfter = (d) => {
  if (!d) return '';
  const t = new Date(`${d}T00:00:00`);
  t.setDate(t.getDate() + 1);
  return String(t.getTime());
};

function Clip() {
  return (
    <svg width="13" height="13" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9" />
    </svg>
  );
}

export function InboxPage({ ep, query }) {
  const status = STATUSES.includes(query.get('status')) ? query.get('status') : 'inbox';
  const manage = can('member');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [rows, setRows] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(() => new Set());
  const [openId, setOpenId] = useState(null);
  const [fresh, setFresh] = useState(() => new Set());
  const [confirm, setConfirm] = useState(null);
  const [scanned, setScanned] = useState(0); // rows a search has opened so far
  const seq = useRef(0);

  const filters = { status, q, since: dayStart(since), until: dayAfter(until) };

  const load = async (after = null) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const r = await get(`/endpoints/${ep.id}/submissions`, { ...filters, limit: PAGE, cursor: after });
      if (mine !== seq.current) return;
      setRows((old) => (after && old ? [...old, ...r.data.filter((s) => !old.some((o) => o.id === s.id))] : r.data));
      setCursor(r.next_cursor || null);
      setScanned((n) => (after ? n : 0) + (r.scanned || 0));
    } catch (e) {
      if (mine === seq.current) setError(e);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };

  useEffect(() => {
    setRows(null);
    setSelected(new Set());
    setOpenId(null);
    load();
  }, [ep.id, status, q, since, until]);

  // Typing searches after a pause; Enter searches at once.
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), 350);
    return () => clearTimeout(t);
  }, [search]);

  const columns = useMemo(() => {
    const seen = [];
    for (const r of rows || []) {
      for (const k of Object.keys(r.fields || {})) if (!seen.includes(k)) seen.push(k);
    }
    return seen.slice(0, MAX_COLUMNS);
  }, [rows]);

  const matchesView = (s) => s.status === status && !q
    && (!since || Date.parse(s.created_at) >= Number(filters.since))
    && (!until || Date.parse(s.created_at) < Number(filters.until));

  const insert = (s) => setRows((old) => {
    if (!old || old.some((o) => o.id === s.id)) return old;
    const at = old.findIndex((o) => o.created_at < s.created_at);
    return at < 0 ? [...old, s] : [...old.slice(0, at), s, ...old.slice(at)];
  });
  const remove = (ids) => {
    const gone = new Set(ids);
    setRows((old) => old && old.filter((o) => !gone.has(o.id)));
    setSelected((sel) => new Set([...sel].filter((id) => !gone.has(id))));
    if (gone.has(openId)) setOpenId(null);
  };

  useLive(async (type, data) => {
    if (type === 'reset') { load(); return; }
    if (!type.startsWith('submission.') || (data.endpoint !== ep.id && data.endpoint !== ep.key)) return;
    if (type === 'submission.deleted') { remove([data.id]); return; }
    const listed = rows && rows.find((r) => r.id === data.id);
    if (type === 'submission.updated' && listed) {
      if (data.status && data.status !== status) remove([data.id]);
      return;
    }
    if (data.status && data.status !== status) return;
    try {
      const s = await get(`/submissions/${data.id}`);
      if (!matchesView(s)) return;
      insert(s);
      setFresh((f) => new Set(f).add(s.id));
      setTimeout(() => setFresh((f) => { const n = new Set(f); n.delete(s.id); return n; }), 4000);
    } catch { /* gone again, or not ours */ }
  });

  const setStatus = async (ids, to) => {
    let done = 0;
    for (const id of ids) {
      try {
        const s = await patch(`/submissions/${id}`, { status: to });
        done += 1;
        if (to !== status) remove([id]);
        else setRows((old) => old && old.map((o) => (o.id === id ? s : o)));
      } catch (e) {
        showError(e);
        break;
      }
    }
    if (done) toast(`${done === 1 ? 'Moved 1 submission' : `Moved ${done} submissions`} to ${STATUS_LABEL[to]}`);
  };

  const erase = async (ids) => {
    let done = 0;
    for (const id of ids) {
      try {
        await del(`/submissions/${id}`);
        done += 1;
        remove([id]);
      } catch (e) {
        showError(e);
        break;
      }
    }
    if (done) toast(done === 1 ? 'Deleted 1 submission' : `Deleted ${done} submissions`);
  };
  const askErase = (ids) => setConfirm({
    ids,
    title: ids.length === 1 ? 'Delete this submission?' : `Delete ${ids.length} submissions?`,
  });

  const closePanel = () => {
    const id = openId;
    setOpenId(null);
    // Back to the row it was opened from, for keyboard users.
    requestAnimationFrame(() => {
      const b = document.querySelector(`tr[data-id="${id}"] .row-open`);
      if (b) b.focus();
    });
  };

  const open = rows && rows.find((r) => r.id === openId);
  const allSelected = rows && rows.length > 0 && rows.every((r) => selected.has(r.id));
  const toggle = (id) => setSelected((sel) => {
    const n = new Set(sel);
    if (n.has(id)) n.delete(id); else n.add(id);
    return n;
  });
  const exportItems = ['csv', 'json', 'ndjson'].map((format) => ({
    label: format.toUpperCase(),
    href: linkUrl(`/endpoints/${ep.id}/export`, { format, status, since: filters.since, until: filters.until }),
    download: '',
  }));
  const selIds = [...selected];

  return (
    <div class={open ? 'inbox with-panel' : 'inbox'}>
      <div class="toolbar">
        <Segmented label="Status" value={status}
          options={STATUSES.map((s) => ({ value: s, label: STATUS_LABEL[s] }))}
          onChange={(s) => go(`${href('e', ep.id, 'inbox')}${s === 'inbox' ? '' : `?status=${s}`}`)} />
        <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setQ(search.trim()); }}>
          <label for="inbox-q" class="sr-only">Search submissions</label>
          <input id="inbox-q" type="search" placeholder="Search…" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </form>
        <div class="dates">
          <label><span class="sr-only">From</span>
            <input type="date" aria-label="From" value={since} max={until || undefined} onChange={(e) => setSince(e.currentTarget.value)} /></label>
          <span aria-hidden="true" class="muted">–</span>
          <label><span class="sr-only">To</span>
            <input type="date" aria-label="To" value={until} min={since || undefined} onChange={(e) => setUntil(e.currentTarget.value)} /></label>
          {(since || until) && <button type="button" class="btn btn-ghost btn-sm" onClick={() => { setSince(''); setUntil(''); }}>Clear</button>}
        </div>
        <div class="toolbar-end">
          {manage && <Menu label="Export" items={exportItems} />}
        </div>
      </div>

      {manage && selIds.length > 0 && (
        <div class="bulkbar" role="region" aria-label="Selected submissions">
          <span><strong>{selIds.length}</strong> selected</span>
          {status !== 'spam' && <button type="button" class="btn btn-sm" onClick={() => setStatus(selIds, 'spam')}>Spam</button>}
          {status === 'spam' && <button type="button" class="btn btn-sm" onClick={() => setStatus(selIds, 'inbox')}>Not spam</button>}
          {status !== 'trash' && <button type="button" class="btn btn-sm" onClick={() => setStatus(selIds, 'trash')}>Trash</button>}
          {status === 'trash' && <button type="button" class="btn btn-sm" onClick={() => setStatus(selIds, 'inbox')}>Restore</button>}
          <button type="button" class="btn btn-sm btn-danger" onClick={() => askErase(selIds)}>Delete</button>
          <button type="button" class="btn btn-ghost btn-sm" onClick={() => setSelected(new Set())}>Clear selection</button>
        </div>
      )}

      <ErrorBox error={error} onRetry={() => load()} />
      {q && rows && scanned > 0 && (
        <p class="muted small search-note" role="status">
          {rows.length} found in {scanned} submissions searched{cursor ? '; Load more searches further.' : '.'}
        </p>
      )}
      {!rows && !error && <Loading />}
      {rows && !rows.length && (
        <Empty title={q || since || until ? 'Nothing matches' : `No submissions in ${STATUS_LABEL[status]}`}>
          {status === 'inbox' && !q && <>Post the form from the <a href={href('e', ep.id, 'setup')}>Setup</a> tab; it shows up here at once.</>}
        </Empty>
      )}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table class="table inbox-table">
            <thead>
              <tr>
                {manage && (
                  <th class="sel" scope="col">
                    <input type="checkbox" aria-label="Select all" checked={allSelected}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))} />
                  </th>
                )}
                <th scope="col">Received</th>
                {columns.map((c) => <th key={c} scope="col">{c}</th>)}
                <th scope="col"><span class="sr-only">Files</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-id={r.id}
                  class={[r.id === openId && 'active', fresh.has(r.id) && 'fresh', selected.has(r.id) && 'selected'].filter(Boolean).join(' ') || undefined}
                  onClick={(e) => { if (!e.target.closest('input, a, button')) setOpenId(r.id); }}>
                  {manage && (
                    <td class="sel">
                      <input type="checkbox" aria-label="Select" checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
                    </td>
                  )}
                  <td class="nowrap">
                    <button type="button" class="row-open" aria-label={`Open submission of ${new Date(r.created_at).toLocaleString()}`}
                      onClick={() => setOpenId(r.id)}><Time t={r.created_at} /></button>
                  </td>
                  {columns.map((c) => <td key={c} class="trunc">{text(r.fields && r.fields[c])}</td>)}
                  <td class="nowrap muted">{r.files && r.files.length ? <span class="files-count" title={r.files.length === 1 ? '1 file' : `${r.files.length} files`}><Clip />{r.files.length}</span> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows && cursor && (
        <div class="more">
          <button type="button" class="btn" disabled={loading} onClick={() => load(cursor)}>{loading ? 'Loading…' : 'Load more'}</button>
        </div>
      )}

      {open && (
        <SubmissionPanel sub={open} manage={manage} onClose={closePanel}
          onStatus={(to) => setStatus([open.id], to)} onDelete={() => askErase([open.id])} />
      )}
      {confirm && (
        <Confirm title={confirm.title} confirmLabel="Delete forever"
          message="The submission and its files are erased for good; this cannot be undone."
          onConfirm={() => erase(confirm.ids)} onClose={() => setConfirm(null)} />
      )}
    </div>
  );
}
