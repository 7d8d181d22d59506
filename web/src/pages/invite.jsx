// #/invite/<token>: someone was invited into an account. Logged in, they
// join with one click; otherwise a new user sets a password (and is logged
// in by the acceptance), an existing one logs in first.
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../core/api.js';
import { href, go } from '../core/router.js';
import { session, adopt, switchAccount } from '../core/session.js';
import { useStore } from '../core/store.js';
import { Loading, Time } from '../ui/common.jsx';
import { toast } from '../ui/toast.jsx';
import { AuthFrame, LoginForm } from './auth.jsx';

async function accepted(answer) {
  // The acceptance may answer with the session (a new user is logged in);
  // otherwise the session is read again for the new membership.
  adopt(answer && answer.csrf_token ? answer : await get('/auth/session'));
  const acc = answer && (answer.account || (answer.membership && answer.membership.account));
  if (acc && acc.id) switchAccount(acc.id);
  toast('You joined the account');
  go(href());
}

export function InvitePage({ token }) {
  const s = useStore(session);
  const [invite, setInvite] = useState(null);
  const [error, setError] = useState('');
  const [password, setPassword] = useState('');
  const [userName, setUserName] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    get('/invites/lookup', { token }, { quiet401: true }).then(setInvite, (e) => setError(e.message));
  }, [token]);

  const accept = async (extra = {}) => {
    setBusy(true);
    setError('');
    try {
      await accepted(await post('/invites/accept', { token, ...extra }, { quiet401: true }));
    } catch (e) {
      setError(e.message);
      setBusy(false);
    }
  };

  if (error && !invite) {
    return (
      <AuthFrame title="Invitation">
        <p class="field-error" role="alert">{error}</p>
        <p><a href={href()}>Go to the dashboard</a></p>
      </AuthFrame>
    );
  }
  if (!invite || s.state === 'loading') return <AuthFrame title="Invitation"><Loading /></AuthFrame>;
  const name = (invite.account && invite.account.name) || 'an account';
  const sub = <>Invitation for <strong>{invite.email}</strong> as <strong>{invite.role}</strong>{invite.expires_at && <>, expires <Time t={invite.expires_at} /></>}.</>;

  if (s.state === 'ready') {
    return (
      <AuthFrame title={`Join ${name}`} sub={sub}>
        {s.user && invite.email && s.user.email.toLowerCase() !== invite.email.toLowerCase() && (
          <p class="warn">You are logged in as {s.user.email}.</p>
        )}
        {error && <p class="field-error" role="alert">{error}</p>}
        <div class="actions">
          <a class="btn" href={href()}>Not now</a>
          <button type="button" class="btn btn-primary" disabled={busy} onClick={() => accept()}>Join {name}</button>
        </div>
      </AuthFrame>
    );
  }
  if (invite.has_user) {
    return (
      <AuthFrame title={`Join ${name}`} sub={<>{sub} Log in first; you join right after.</>}>
        <LoginForm email={invite.email} after={async (answer) => { adopt(answer); await accept(); }} />
        {error && <p class="field-error" role="alert">{error}</p>}
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title={`Join ${name}`} sub={<>{sub} Choose a password to create your user.</>}>
      <form class="stack" onSubmit={(e) => { e.preventDefault(); accept({ password, name: userName.trim() || undefined }); }}>
        <div class="field">
          <label for="inv-email">Email</label>
          <input id="inv-email" type="email" value={invite.email} readOnly autoComplete="username" />
        </div>
        <div class="field">
          <label for="inv-name">Your name <span class="muted">(optional)</span></label>
          <input id="inv-name" value={userName} autoComplete="name" onInput={(e) => setUserName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="inv-password">Password</label>
          <input id="inv-password" type="password" required minLength={10} value={password} autoComplete="new-password"
            onInput={(e) => setPassword(e.currentTarget.value)} />
          <p class="hint">At least 10 characters.</p>
        </div>
        {error && <p class="field-error" role="alert">{error}</p>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>Join {name}</button>
      </form>
    </AuthFrame>
  );
}
