// The live stream: one EventSource for the page, shared by every view.
// EventSource cannot send X-Inlet-Account, so the account goes in the
// query. It reconnects by itself (with Last-Event-ID) after a network
// error; a refused connection (no such route yet, logged out) closes it for
// good, so that case is retried here, slower each time.
import { useEffect, useRef } from 'preact/hooks';
import { BASE } from './api.js';
import { store } from './store.js';

const TYPES = ['submission.created', 'submission.updated', 'submission.deleted',
  'issue.created', 'issue.updated', 'reset'];

export const liveState = store('off'); // 'off' | 'connecting' | 'on' | 'down'

const listeners = new Set();
let source = null;
let account = '';
let retry = null;
let backoff = 5000;

function open() {
  clearTimeout(retry);
  liveState.set('connecting');
  const es = new EventSource(`${BASE}/stream?account=${encodeURIComponent(account)}`);
  source = es;
  es.onopen = () => { backoff = 5000; liveState.set('on'); };
  es.onerror = () => {
    if (es !== source) return;
    if (es.readyState === EventSource.CLOSED) {
      liveState.set('down');
      retry = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 300000);
    } else {
      liveState.set('connecting');
    }
  };
  for (const type of TYPES) {
    es.addEventListener(type, (ev) => {
      let data = {};
      try { data = ev.data ? JSON.parse(ev.data) : {}; } catch { return; }
      for (const f of [...listeners]) f(type, data);
    });
  }
}

/** Follows `accountId`; the same account keeps the connection it has. */
export function startLive(accountId) {
  if (source && accountId === account) return;
  stopLive();
  account = accountId;
  if (accountId && typeof EventSource !== 'undefined') open();
}

export function stopLive() {
  clearTimeout(retry);
  if (source) source.close();
  source = null;
  liveState.set('off');
}

/** Calls handler(type, data) for every stream event while mounted. */
export function useLive(handler) {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const f = (type, data) => ref.current(type, data);
    listeners.add(f);
    return () => listeners.delete(f);
  }, []);
}
