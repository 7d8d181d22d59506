// The account's members and invitations. Admins invite (the link is shown
// to copy, whether or not it was emailed), change roles and remove; anyone
// may leave.
import { useEffect, useState } from 'preact/hooks';
import { get, post, patch, del } from '../core/api.js';
import { href, go } from '../core/router.js';
import { can, currentRole, boot } from '../core/session.js';
import { Loading, Empty, ErrorBox, Time, Badge, PageHead } from '../ui/common.jsx';
import { Dialog, Confirm } from '../ui/dialog.jsx';
import { CopyButton } from '../ui/copy.jsx';
import { toast, showError } from '../ui/toast.jsx';

const ROLES = ['viewer', 'member', 'admin', 'owner'];
const rank = (r) => ROLES.indexOf(r);

/** Roles the current user may hand out: up to their own. */
const grantable = () => ROLES.filter((r) => rank(r) <= rank(currentRole()));

function InviteDialog({ onClose, onDone }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('member');
  const [error, setError] = useState('');
  const [made, setMade] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      const inv = await post('/invites', { email: email.trim(), role });
      setMade(inv);
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  if (made) {
    return (
      <Dialog title="Invitation made" onClose={onClose}>
        <div class="stack">
          <p>{made.emailed ? `An email is on its way to ${made.email || email}. You can also send the link yourself:` : 'Send this link to the person you invited:'}</p>
          <div class="secret"><code data-invite-url>{made.url}</code><CopyButton text={made.url || ''} /></div>
          <div class="actions"><button type="button" class="btn btn-primary" onClick={onClose}>Done</button></div>
        </div>
      </Dialog>
    );
  }
  return (
    <Dialog title="Invite someone" onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="invite-email">Email</label>
          <input id="invite-email" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} autoFocus />
        </div>
        <div class="field">
          <label for="invite-role">Role</label>
          <select id="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {grantable().map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
          <p class="hint">Viewers read; members also handle submissions and issues; admins also manage endpoints, keys, webhooks and the team.</p>
        </div>
        {error && <p class="field-error" role="alert">{error}</p>}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary">Invite</button>
        </div>
      </form>
    </Dialog>
  );
}

export function TeamPage() {
  const admin = can('admin');
  const [members, setMembers] = useState(null);
  const [invites, setInvites] = useState(null);
  const [error, setError] = useState(null);
  const [inviting, setInviting] = useState(false);
  const [confirm, setConfirm] = useState(null);

  const load = () => {
    setError(null);
    get('/members').then((r) => setMembers(Array.isArray(r) ? r : r.data), setError);
    get('/invites').then((r) => setInvites(Array.isArray(r) ? r : r.data), () => setInvites([]));
  };
  useEffect(() => { load(); }, []);

  const changeRole = async (m, role) => {
    try {
      await patch(`/members/${m.id}`, { role });
      toast(`${m.email} is now ${role}`);
      load();
    } catch (e) {
      showError(e);
      load();
    }
  };

  const ask = (kind, m) => {
    if (kind === 'leave') {
      setConfirm({
        title: 'Leave this account?', label: 'Leave', message: 'You lose access to its endpoints until someone invites you again.',
        run: async () => { await del(`/members/${m.id}`); toast('You left the account'); await boot(); go(href()); },
      });
    } else if (kind === 'remove') {
      setConfirm({
        title: `Remove ${m.email}?`, label: 'Remove', message: 'They lose access to this account at once.',
        run: async () => { await del(`/members/${m.id}`); toast(`${m.email} removed`); load(); },
      });
    } else {
      setConfirm({
        title: `Revoke the invitation of ${m.email}?`, label: 'Revoke', message: 'The link stops working.',
        run: async () => { await del(`/invites/${m.id}`); toast('Invitation revoked'); load(); },
      });
    }
  };

  return (
    <>
      <PageHead title="Team" sub="Who can see and change this account.">
        {admin && <button type="button" class="btn btn-primary" onClick={() => setInviting(true)}>Invite</button>}
      </PageHead>
      <ErrorBox error={error && error.status === 404 ? { message: 'This server does not manage members yet (no /api/v1/members).' } : error} onRetry={load} />
      {!members && !error && <Loading />}
      {members && (
        <div class="table-wrap">
          <table class="table cards-sm members">
            <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Joined</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {members.map((m) => {
                const editable = admin && !m.you && rank(m.role) <= rank(currentRole());
                return (
                  <tr key={m.id} data-id={m.id}>
                    <td data-label="Member">
                      <span class="strong">{m.name || m.email}</span> {m.you && <Badge kind="accent">you</Badge>}
                      {m.name && <div class="muted small">{m.email}</div>}
                    </td>
                    <td data-label="Role">
                      {editable ? (
                        <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => changeRole(m, e.currentTarget.value)}>
                          {grantable().map((r) => <option key={r} value={r}>{r}</option>)}
                        </select>
                      ) : m.role}
                    </td>
                    <td data-label="Joined"><Time t={m.joined_at} /></td>
                    <td class="right">
                      {m.you && <button type="button" class="btn btn-sm" onClick={() => ask('leave', m)}>Leave</button>}
                      {editable && <button type="button" class="btn btn-sm btn-danger" onClick={() => ask('remove', m)}>Remove</button>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {(admin || (invites && invites.length > 0)) && (
        <section class="section">
          <h2>Invitations</h2>
          {!invites && <Loading />}
          {invites && !invites.length && <Empty title="No open invitations" />}
          {invites && invites.length > 0 && (
            <div class="table-wrap">
              <table class="table cards-sm">
                <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th>{admin && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
                <tbody>
                  {invites.map((i) => (
                    <tr key={i.id} data-id={i.id}>
                      <td data-label="Email">{i.email}</td>
                      <td data-label="Role">{i.role}</td>
                      <td data-label="Expires"><Time t={i.expires_at} /></td>
                      {admin && (
                        <td class="right">
                          <button type="button" class="btn btn-sm btn-danger" onClick={() => ask('invite', i)}>Revoke</button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      {inviting && <InviteDialog onClose={() => setInviting(false)} onDone={load} />}
      {confirm && (
        <Confirm title={confirm.title} confirmLabel={confirm.label} message={confirm.message} onClose={() => setConfirm(null)}
          onConfirm={async () => { try { await confirm.run(); } catch (e) { showError(e); throw e; } }} />
      )}
    </>
  );
}
