// The app's frame: which screen the session calls for (sign-up, login or
// the dashboard), the header with the account switcher, the navigation,
// and the route table.
import { useEffect, useState } from 'preact/hooks';
import { post } from './core/api.js';
import { useRoute, href, go } from './core/router.js';
import { session, boot, logout, switchAccount, addAccount, currentRole } from './core/session.js';
import { liveState, startLive, stopLive } from './core/live.js';
import { useStore } from './core/store.js';
import { Toasts, toast, showError } from './ui/toast.jsx';
import { Dialog } from './ui/dialog.jsx';
import { Loading, Empty } from './ui/common.jsx';
import { LoginPage, SignupPage } from './pages/auth.jsx';
import { InvitePage } from './pages/invite.jsx';
import { EndpointsPage } from './pages/endpoints.jsx';
import { EndpointPage } from './pages/endpoint.jsx';
import { AccountAnalyticsPage } from './pages/analytics.jsx';
import { KeysPage } from './pages/keys.jsx';
import { TeamPage } from './pages/team.jsx';
import { AccountPage } from './pages/account.jsx';

export function App() {
  const s = useStore(session);
  const route = useRoute();

  useEffect(() => { boot(); }, []);
  useEffect(() => {
    if (s.state === 'ready' && s.accountId) startLive(s.accountId);
    else stopLive();
  }, [s.state, s.accountId]);

  let screen;
  if (route.parts[0] === 'invite') screen = <InvitePage token={route.parts[1] || ''} />;
  else if (s.state === 'loading') screen = <div class="center-screen"><Loading /></div>;
  else if (s.state === 'setup') screen = <SignupPage />;
  else if (s.state === 'login') screen = <LoginPage />;
  else screen = <Shell route={route} s={s} />;
  return <>{screen}<Toasts /></>;
}

const NAV = [
  { path: '', label: 'Endpoints', match: (p) => !p.length || p[0] === 'e' },
  { path: 'analytics', label: 'Analytics' },
  { path: 'keys', label: 'API keys' },
  { path: 'team', label: 'Team' },
  { path: 'account', label: 'Account' },
];

function Shell({ route, s }) {
  const [navOpen, setNavOpen] = useState(false);
  const [newAccount, setNewAccount] = useState(false);
  useEffect(() => setNavOpen(false), [route.path]);
  useEffect(() => {
    if (!navOpen) return undefined;
    const onKey = (e) => {
      if (e.key !== 'Escape') return;
      setNavOpen(false);
      document.querySelector('.menu-toggle').focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [navOpen]);

  return (
    <div class={navOpen ? 'shell nav-open' : 'shell'}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
      <header class="topbar">
        <button type="button" class="icon-btn menu-toggle" aria-label="Menu" aria-expanded={navOpen ? 'true' : 'false'}
          aria-controls="nav" onClick={() => setNavOpen(!navOpen)}>☰</button>
        <a class="brand" href={href()}><span class="logo" aria-hidden="true" />Inlet</a>
        <AccountSwitcher s={s} />
        <div class="topbar-end">
          <LiveDot />
          <span class="user muted" title={s.user && s.user.email}>{s.user && s.user.email}</span>
          <button type="button" class="btn btn-ghost btn-sm" onClick={logout}>Log out</button>
        </div>
      </header>
      <nav id="nav" class="sidenav" aria-label="Main">
        <ul>
          {NAV.map((n) => {
            const active = n.match ? n.match(route.parts) : route.parts[0] === n.path;
            return <li key={n.label}><a href={href(n.path)} aria-current={active ? 'page' : undefined}>{n.label}</a></li>;
          })}
        </ul>
        <div class="sidenav-foot">
          <button type="button" class="btn btn-ghost btn-sm" onClick={() => setNewAccount(true)}>+ New account</button>
          <p class="muted small">Your role: {currentRole(s)}</p>
        </div>
      </nav>
      <main id="main" class="content" tabIndex={-1}>
        {s.accountId ? <Routes key={s.accountId} route={route} /> : (
          <Empty title="You belong to no account">
            <p>Make one, or ask an admin of an account for an invitation.</p>
            <p><button type="button" class="btn btn-primary" onClick={() => setNewAccount(true)}>New account</button></p>
          </Empty>
        )}
      </main>
      {newAccount && <NewAccountDialog onClose={() => setNewAccount(false)} />}
    </div>
  );
}

function Routes({ route }) {
  const [head, id, tab, sub] = route.parts;
  if (!head) return <EndpointsPage />;
  if (head === 'e' && id) return <EndpointPage id={id} tab={tab} sub={sub} query={route.query} />;
  if (head === 'analytics') return <AccountAnalyticsPage />;
  if (head === 'keys') return <KeysPage />;
  if (head === 'team') return <TeamPage />;
  if (head === 'account') return <AccountPage />;
  return <Empty title="Nothing here">That page does not exist. <a href={href()}>Back to the endpoints</a></Empty>;
}

function AccountSwitcher({ s }) {
  const many = s.accounts.length > 1;
  return (
    <div class="account-switch">
      {many ? (
        <label>
          <span class="sr-only">Account</span>
          <select value={s.accountId} onChange={(e) => { switchAccount(e.currentTarget.value); go(href()); }}>
            {s.accounts.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
          </select>
        </label>
      ) : (
        <span class="account-name">{(s.accounts[0] && s.accounts[0].name) || 'No account'}</span>
      )}
    </div>
  );
}

function LiveDot() {
  const st = useStore(liveState);
  const label = { on: 'Live', connecting: 'Connecting', down: 'Offline', off: 'Offline' }[st];
  return <span class={`live live-${st}`} title={`Live updates: ${label}`}><span class="dot" aria-hidden="true" />{label}</span>;
}

function NewAccountDialog({ onClose }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const acc = await post('/accounts', { name });
      addAccount({ id: acc.id, name: acc.name, role: acc.role || 'owner' });
      toast(`Account “${acc.name}” created`);
      go(href());
      onClose();
    } catch (err) {
      setError(err.message);
      showError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title="New account" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="new-account-name">Name</label>
          <input id="new-account-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
        </div>
        {error && <p class="field-error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !name.trim()}>Create account</button>
        </div>
      </form>
    </Dialog>
  );
}

