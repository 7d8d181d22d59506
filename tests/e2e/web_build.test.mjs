// The committed dashboard (web/dist) is exactly what web/build.mjs makes
// from web/src, so the binary embeds reviewed code and nobody ships a stale
// build; the first load stays small; and index.html holds nothing that the
// dashboard's Content-Security-Policy (script-src 'self', style-src 'self')
// would block.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { REPO_ROOT, makeTempDir, cleanup, SCALE } from '../lib/inlet.mjs';

const run = promisify(execFile);
const DIST = path.join(REPO_ROOT, 'web', 'dist');
const FIRST_LOAD_MAX = 150 * 1024; // gzip-compressed bytes: index.html + js + css
const T = { timeout: 120_000 * SCALE };

after(cleanup);

/** Every file under `dir`, as sorted paths relative to it. */
async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath ?? e.path, e.name)));
  }
  return out.sort();
}

/** The js and css files index.html loads. */
function assetsOf(html) {
  const js = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]);
  const css = [...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]);
  return { js, css };
}

test('a rebuild into a temporary folder equals web/dist byte for byte', T, async () => {
  const out = await makeTempDir('inlet-web-build-');
  await run(process.execPath, [path.join('web', 'build.mjs'), out], { cwd: REPO_ROOT, timeout: 90_000 * SCALE });
  const want = await files(DIST);
  const got = await files(out);
  assert.ok(want.includes('index.html'), 'web/dist/index.html is committed');
  assert.deepEqual(got, want, 'the same set of files (run `make web` and commit web/dist)');
  for (const f of want) {
    const a = await readFile(path.join(DIST, f));
    const b = await readFile(path.join(out, f));
    assert.ok(a.equals(b), `${f} differs from a fresh build (run \`make web\` and commit web/dist)`);
  }
  for (const f of want.filter((n) => n !== 'index.html')) {
    assert.match(f, /^assets\/app-[A-Za-z0-9]+\.(js|css)$/, `${f}: asset names carry a content hash`);
  }
});

test('the first load (index.html, js, css) is under 150 KB gzip-compressed', T, async () => {
  const html = await readFile(path.join(DIST, 'index.html'), 'utf8');
  const { js, css } = assetsOf(html);
  assert.equal(js.length, 1, 'one script');
  assert.equal(css.length, 1, 'one stylesheet');
  let total = zlib.gzipSync(Buffer.from(html), { level: 9 }).length;
  const sizes = [`index.html ${total}`];
  for (const ref of [...js, ...css]) {
    assert.match(ref, /^(\.\/|\/)?assets\/app-[A-Za-z0-9]+\.(js|css)$/, `${ref}: a hashed asset`);
    const bytes = await readFile(path.join(DIST, ref.replace(/^\.?\//, '')));
    const gz = zlib.gzipSync(bytes, { level: 9 }).length;
    sizes.push(`${ref} ${bytes.length} raw, ${gz} gzip`);
    total += gz;
  }
  assert.ok(total < FIRST_LOAD_MAX, `first load ${total} bytes gzip (${sizes.join('; ')}), limit ${FIRST_LOAD_MAX}`);
});

test('index.html has no inline script, style or event handler', T, async () => {
  const html = await readFile(path.join(DIST, 'index.html'), 'utf8');
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    assert.match(m[1], /\bsrc=/, `a script without src: ${m[0]}`);
    assert.equal(m[2].trim(), '', `inline script content: ${m[0]}`);
  }
  assert.doesNotMatch(html, /<style\b/i, 'no <style> element');
  assert.doesNotMatch(html, /\sstyle\s*=/i, 'no style="" attribute');
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handler attribute');
  assert.doesNotMatch(html, /javascript:/i, 'no javascript: URL');
});
