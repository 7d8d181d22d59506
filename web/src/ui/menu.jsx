// A button that opens a short list of links or actions. Escape or a click
// elsewhere closes it; arrow keys move between the items.
import { useEffect, useRef, useState } from 'preact/hooks';

export function Menu({ label, items, class: cls = 'btn' }) {
  const [open, setOpen] = useState(false);
  const root = useRef(null);
  const button = useRef(null);

  useEffect(() => {
    if (!open) return undefined;
    const first = root.current && root.current.querySelector('[role=menuitem]');
    if (first) first.focus();
    const away = (e) => { if (root.current && !root.current.contains(e.target)) setOpen(false); };
    document.addEventListener('mousedown', away);
    return () => document.removeEventListener('mousedown', away);
  }, [open]);

  const onKey = (e) => {
    if (e.key === 'Escape' && open) {
      e.stopPropagation();
      setOpen(false);
      button.current.focus();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const all = [...root.current.querySelectorAll('[role=menuitem]')];
    const at = all.indexOf(document.activeElement);
    const next = all[(at + (e.key === 'ArrowDown' ? 1 : all.length - 1)) % all.length];
    if (next) { e.preventDefault(); next.focus(); }
  };

  return (
    <div class="menu" ref={root} onKeyDown={onKey}>
      <button type="button" class={cls} ref={button} aria-haspopup="menu" aria-expanded={open ? 'true' : 'false'}
        onClick={() => setOpen(!open)}>{label} <span aria-hidden="true">▾</span></button>
      {open && (
        <div class="menu-list" role="menu">
          {items.map((it) => (it.href
            ? <a key={it.label} role="menuitem" href={it.href} download={it.download} onClick={() => setOpen(false)}>{it.label}</a>
            : <button key={it.label} type="button" role="menuitem" onClick={() => { setOpen(false); it.onClick(); }}>{it.label}</button>))}
        </div>
      )}
    </div>
  );
}
