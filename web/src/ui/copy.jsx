// Copy to the clipboard, with a fallback for pages where the Clipboard API
// is unavailable (plain http on another host than localhost).
import { useState } from 'preact/hooks';
import { toast } from './toast.jsx';

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.appendChild(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('copy refused');
}

export function CopyButton({ text, label = 'Copy', class: cls = 'btn btn-sm' }) {
  const [done, setDone] = useState(false);
  const onClick = async () => {
    try {
      await copyText(text);
      setDone(true);
      toast('Copied to the clipboard');
      setTimeout(() => setDone(false), 1500);
    } catch {
      toast('The browser did not allow copying; select the text instead.', 'error');
    }
  };
  return <button type="button" class={cls} onClick={onClick}>{done ? 'Copied' : label}</button>;
}

/** A snippet of code with its title and a Copy button. */
export function Snippet({ id, title, code, note }) {
  return (
    <section class="snippet" aria-label={title}>
      <div class="snippet-head">
        <h3>{title}</h3>
        <CopyButton text={code} />
      </div>
      {note && <p class="muted small">{note}</p>}
      <pre data-snippet={id} tabIndex={0}><code>{code}</code></pre>
    </section>
  );
}
