// Who is logged in, into which account, with which role.
//   state: 'loading' | 'setup' (no user yet: sign-up) | 'login' | 'ready'
// The selected account is remembered in localStorage and sent on every
// call (api.js); the role only hides controls, the server decides.
import { get, post, setAccount, setCsrf, onUnauthorized } from './api.js';
import { store } from './store.js';

const ACCOUNT_KEY = 'inlet.account';
const RANKS = { viewer: 0, member: 1, admin: 2, owner: 3 };

export const session = store({ state: 'loading', user: null, accounts: [], accountId: '' });

function remembered() {
  try { return localStorage.getItem(ACCOUNT_KEY) || ''; } catch { return ''; }
}
function remember(id) {
  try { localStorage.setItem(ACCOUNT_KEY, id); } catch { /* private mode: not kept */ }
}

/** Takes the answer of login, signup, session or invite acceptance. */
export function adopt(answer) {
  const accounts = (answer && answer.accounts) || [];
  const want = session.get().accountId || remembered();
  const pick = accounts.find((a) => a.id === want) || accounts[0] || null;
  setCsrf(answer.csrf_token);
  setAccount(pick ? pick.id : '');
  if (pick) remember(pick.id);
  session.set({ state: 'ready', user: answer.user, accounts, accountId: pick ? pick.id : '' });
}

function loggedOut() {
  setCsrf('');
  session.set((s) => ({ ...s, state: 'login', user: null, accounts: [] }));
}

onUnauthorized(() => {
  if (session.get().state === 'ready') loggedOut();
});

export async function boot() {
  try {
    const setup = await get('/auth/setup', undefined, { quiet401: true });
    if (setup && setup.needs_setup) {
      session.set((s) => ({ ...s, state: 'setup' }));
      return;
    }
  } catch { /* an older server without the route: go on to the session */ }
  try {
    adopt(await get('/auth/session', undefined, { quiet401: true }));
  } catch (e) {
    if (e.status !== 401) console.warn('session:', e.message);
    loggedOut();
  }
}

export async function logout() {
  try { await post('/auth/logout', undefined); } catch { /* already gone */ }
  loggedOut();
}

export function switchAccount(id) {
  setAccount(id);
  remember(id);
  session.set((s) => ({ ...s, accountId: id }));
}

export function addAccount(acc) {
  session.set((s) => ({ ...s, accounts: [...s.accounts, acc] }));
  switchAccount(acc.id);
}

export function currentRole(s = session.get()) {
  const a = s.accounts.find((x) => x.id === s.accountId);
  return a ? a.role : 'viewer';
}

/** Whether the current role reaches `min` (viewer < member < admin < owner). */
export function can(min, s = session.get()) {
  return (RANKS[currentRole(s)] ?? 0) >= RANKS[min];
}
