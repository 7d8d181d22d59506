// Many small reads at once (a figure per endpoint), but never more than a
// few in flight: the server serves the dashboard among its real traffic.

/** Runs fn over items, at most `limit` at a time; results in order, errors as null. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try { out[i] = await fn(items[i], i); } catch { out[i] = null; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
