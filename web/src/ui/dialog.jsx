// Modal dialogs on the native <dialog>: the browser traps focus, Escape
// closes, and focus returns to what opened it.
import { useEffect, useRef, useState } from 'preact/hooks';

export function Dialog({ title, onClose, children, wide = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    const back = document.activeElement;
    if (d && !d.open) d.showModal();
    return () => { if (back && back.focus) back.focus(); };
  }, []);
  return (
    <dialog ref={ref} class={wide ? 'dialog dialog-wide' : 'dialog'} aria-labelledby="dialog-title"
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <div class="dialog-head">
        <h2 id="dialog-title">{title}</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick={onClose}>×</button>
      </div>
      <div class="dialog-body">{children}</div>
    </dialog>
  );
}

/**
 * "Are you sure?" with a danger button; with `typed`, the button stays off
 * until that text (an endpoint's name) is typed.
 */
export function Confirm({ title, message, confirmLabel = 'Delete', typed, onConfirm, onClose }) {
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const ok = !typed || value === typed;
  const submit = async (e) => {
    e.preventDefault();
    if (!ok || busy) return;
    setBusy(true);
    try { await onConfirm(); onClose(); } catch { setBusy(false); }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <p>{message}</p>
        {typed && (
          <label class="field">
            <span>Type <strong>{typed}</strong> to confirm</span>
            <input value={value} onInput={(e) => setValue(e.currentTarget.value)} autoComplete="off" autoFocus />
          </label>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-danger" disabled={!ok || busy} autoFocus={!typed}>{confirmLabel}</button>
        </div>
      </form>
    </Dialog>
  );
}
