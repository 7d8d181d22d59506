// Short messages at the corner of the screen, read out by screen readers
// (the region is aria-live and is in the page from the start, which is
// what makes assistive technology announce what is added to it).
import { store, useStore } from '../core/store.js';

const toasts = store([]);
let seq = 0;

export function toast(message, kind = 'info') {
  const id = ++seq;
  toasts.set((list) => [...list.slice(-3), { id, message, kind }]);
  setTimeout(() => dismiss(id), kind === 'error' ? 8000 : 4000);
}

function dismiss(id) {
  toasts.set((list) => list.filter((t) => t.id !== id));
}

/** An API failure as a toast (a 401 has already sent the app to login). */
export function showError(e) {
  if (e && e.status === 401) return;
  toast((e && e.message) || String(e), 'error');
}

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts" aria-live="polite" aria-relevant="additions">
      {list.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
          <span>{t.message}</span>
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
