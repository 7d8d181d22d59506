// A value that components can watch. The dashboard's shared state (the
// session, toasts, the live stream's health) is small enough that this is
// all the state management it needs.
import { useEffect, useState } from 'preact/hooks';

export function store(initial) {
  let value = initial;
  const subs = new Set();
  return {
    get: () => value,
    set(next) {
      value = typeof next === 'function' ? next(value) : next;
      for (const f of [...subs]) f(value);
    },
    subscribe(f) {
      subs.add(f);
      return () => subs.delete(f);
    },
  };
}

/** The store's current value; the component renders again when it changes. */
export function useStore(s) {
  const [, bump] = useState(0);
  useEffect(() => s.subscribe(() => bump((n) => n + 1)), [s]);
  return s.get();
}
