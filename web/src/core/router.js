// Hash routing (#/path?query): the server only ever serves "/" and
// "/assets/*", and a reload keeps the page.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#/, '') || '/';
  const at = h.indexOf('?');
  const path = at < 0 ? h : h.slice(0, at);
  return {
    path,
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(at < 0 ? '' : h.slice(at + 1)),
  };
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const f = () => setRoute(parseHash());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return route;
}

/** "#/e/ep_1/inbox" from ("e", "ep_1", "inbox"), each part escaped. */
export function href(...parts) {
  return `#/${parts.filter((p) => p !== undefined && p !== null && p !== '').map(encodeURIComponent).join('/')}`;
}

export function go(hash) {
  if (location.hash !== hash) location.hash = hash;
}
