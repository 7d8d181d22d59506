// API keys of the account: made, listed (never the token again), revoked.
import { useEffect, useState } from 'preact/hooks';
import { get, post, del } from '../core/api.js';
import { can } from '../core/session.js';
import { Loading, Empty, ErrorBox, Time, Badge, PageHead } from '../ui/common.jsx';
import { Dialog, Confirm } from '../ui/dialog.jsx';
import { CopyButton } from '../ui/copy.jsx';
import { toast, showError } from '../ui/toast.jsx';

export function KeysPage() {
  const admin = can('admin');
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [formError, setFormError] = useState('');
  const [made, setMade] = useState(null);
  const [revoking, setRevoking] = useState(null);

  const load = () => get('/keys').then((r) => setKeys(r.data), setError);
  useEffect(() => { load(); }, []);

  const create = async (e) => {
    e.preventDefault();
    setFormError('');
    try {
      const k = await post('/keys', { name: name.trim() });
      setCreating(false);
      setName('');
      setMade(k);
      load();
    } catch (err) {
      setFormError(err.message);
    }
  };

  return (
    <>
      <PageHead title="API keys" sub="For scripts and servers: send one as Authorization: Bearer <key>.">
        {admin && <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>New key</button>}
      </PageHead>
      <ErrorBox error={error} onRetry={load} />
      {!keys && !error && <Loading />}
      {keys && !keys.length && <Empty title="No API keys">The dashboard needs none; make one for the API.</Empty>}
      {keys && keys.length > 0 && (
        <div class="table-wrap">
          <table class="table cards-sm">
            <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Last used</th>
              <th scope="col">State</th>{admin && <th scope="col"><span class="sr-only">Actions</span></th>}</tr></thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-id={k.id}>
                  <td data-label="Name" class="strong">{k.name}</td>
                  <td data-label="Key"><code>{k.prefix}…</code></td>
                  <td data-label="Created"><Time t={k.created_at} /></td>
                  <td data-label="Last used">{k.last_used_at ? <Time t={k.last_used_at} /> : <span class="muted">never</span>}</td>
                  <td data-label="State">{k.revoked_at ? <Badge kind="danger">revoked</Badge> : <Badge kind="ok">active</Badge>}</td>
                  {admin && <td>{!k.revoked_at && <button type="button" class="btn btn-sm btn-danger" onClick={() => setRevoking(k)}>Revoke</button>}</td>}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <Dialog title="New API key" onClose={() => setCreating(false)}>
          <form class="stack" onSubmit={create}>
            <div class="field">
              <label for="key-name">Name</label>
              <input id="key-name" required placeholder="CI export" value={name} onInput={(e) => setName(e.currentTarget.value)} autoFocus />
              <p class="hint">Keys act with full rights on the account.</p>
            </div>
            {formError && <p class="field-error" role="alert">{formError}</p>}
            <div class="actions">
              <button type="button" class="btn" onClick={() => setCreating(false)}>Cancel</button>
              <button type="submit" class="btn btn-primary" disabled={!name.trim()}>Create key</button>
            </div>
          </form>
        </Dialog>
      )}
      {made && (
        <Dialog title="Your new API key" onClose={() => setMade(null)}>
          <div class="stack">
            <p>Copy it now: Inlet keeps only a hash and cannot show it again.</p>
            <div class="secret"><code data-token>{made.token}</code><CopyButton text={made.token} /></div>
            <div class="actions"><button type="button" class="btn btn-primary" onClick={() => setMade(null)}>Done</button></div>
          </div>
        </Dialog>
      )}
      {revoking && (
        <Confirm title={`Revoke “${revoking.name}”?`} confirmLabel="Revoke" message="Requests with this key fail from now on."
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            try { await del(`/keys/${revoking.id}`); toast('Key revoked'); load(); } catch (e) { showError(e); throw e; }
          }} />
      )}
    </>
  );
}
