// The screens before the dashboard: the first start's sign-up and the
// login. Both show the API's own error message next to the form.
import { useState } from 'preact/hooks';
import { post } from '../core/api.js';
import { adopt } from '../core/session.js';

const PASSWORD_MIN = 10; // POST /api/v1/auth/signup: minLength

export function AuthFrame({ title, sub, children }) {
  return (
    <main class="auth" id="main">
      <div class="auth-card">
        <div class="brand brand-lg"><span class="logo" aria-hidden="true" />Inlet</div>
        <h1>{title}</h1>
        {sub && <p class="muted">{sub}</p>}
        {children}
      </div>
    </main>
  );
}

function useSubmit(action) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await action();
    } catch (err) {
      setError(err.status === 429
        ? `Too many attempts. Wait a minute, then try again. (${err.message})`
        : err.message);
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

export function SignupPage() {
  const [account, setAccount] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { error, busy, submit } = useSubmit(async () => {
    adopt(await post('/auth/signup', { account: account.trim(), email: email.trim(), password }));
  });
  return (
    <AuthFrame title="Create your account" sub="This is a new Inlet. The first account and its owner are made here.">
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="su-account">Account name</label>
          <input id="su-account" name="account" value={account} placeholder="Acme" autoComplete="organization"
            onInput={(e) => setAccount(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="su-email">Email</label>
          <input id="su-email" name="email" type="email" required value={email} autoComplete="email"
            onInput={(e) => setEmail(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="su-password">Password</label>
          <input id="su-password" name="password" type="password" required minLength={PASSWORD_MIN} value={password}
            autoComplete="new-password" aria-describedby="su-password-hint" onInput={(e) => setPassword(e.currentTarget.value)} />
          <p class="hint" id="su-password-hint">At least {PASSWORD_MIN} characters.</p>
        </div>
        {error && <p class="field-error" role="alert">{error}</p>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>Create account</button>
      </form>
    </AuthFrame>
  );
}

/** The login form; `after` runs once logged in (the invite page accepts). */
export function LoginForm({ email: presetEmail = '', after }) {
  const [email, setEmail] = useState(presetEmail);
  const [password, setPassword] = useState('');
  const { error, busy, submit } = useSubmit(async () => {
    const answer = await post('/auth/login', { email: email.trim(), password }, { quiet401: true });
    if (after) await after(answer);
    else adopt(answer);
  });
  return (
    <form class="stack" onSubmit={submit}>
      <div class="field">
        <label for="li-email">Email</label>
        <input id="li-email" name="email" type="email" required value={email} autoComplete="username"
          onInput={(e) => setEmail(e.currentTarget.value)} autoFocus={!presetEmail} />
      </div>
      <div class="field">
        <label for="li-password">Password</label>
        <input id="li-password" name="password" type="password" required value={password} autoComplete="current-password"
          onInput={(e) => setPassword(e.currentTarget.value)} autoFocus={!!presetEmail} />
      </div>
      {error && <p class="field-error" role="alert">{error}</p>}
      <button type="submit" class="btn btn-primary btn-block" disabled={busy}>Log in</button>
    </form>
  );
}

export function LoginPage() {
  return (
    <AuthFrame title="Log in" sub="Forms and error events, on your own server.">
      <LoginForm />
    </AuthFrame>
  );
}
