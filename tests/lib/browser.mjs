// Browser tests' shared setup: Debian's chromium driven by playwright-core,
// launched with a throwaway HOME/TMPDIR, and a tiny plain web site on its own
// port (another origin than Inlet) serving HTML pages from a Map.

import http from 'node:http';
import { chromium } from 'playwright-core';
import { makeTempDir, SCALE } from './inlet.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// The network here is closed: no QUIC, no background fetches, no updates.
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches chromium with CHROMIUM_ARGS and then `extraArgs`; resolves the playwright Browser. */
export async function launchChromium(extraArgs = []) {
  // A fresh user-data-dir: chromium.launch() always makes a new temporary
  // profile (playwright_chromiumdev_profile-*) and deletes it on close; it
  // refuses a --user-data-dir in args (that is launchPersistentContext's
  // job). HOME and TMPDIR point the browser's other writes (.pki, crash
  // dumps, shared memory files) into a temporary folder removed by cleanup().
  const tmp = await makeTempDir('inlet-chromium-');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    env: { ...process.env, TMPDIR: tmp, HOME: tmp },
    timeout: 60_000 * SCALE,
  });
}

/**
 * A plain web site on 127.0.0.1 (port 0): GET of a path in `pages`
 * (path → HTML, changeable while it runs) answers that HTML, anything else
 * 404. Resolves {url, pages, close}.
 */
export async function startSite(pages = new Map()) {
  const server = http.createServer((req, res) => {
    const html = pages.get(new URL(req.url, 'http://x').pathname);
    if (req.method === 'GET' && html !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(html);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  return { url, pages, close };
}
