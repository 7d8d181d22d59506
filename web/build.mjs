// Builds the dashboard: web/src → OUTDIR (default web/dist) as index.html
// plus assets/app-<hash>.js and assets/app-<hash>.css.
//
// Asset names carry a hash of their content so the server can cache them
// forever; index.html is the only file a browser revalidates. The output
// must be byte-for-byte reproducible (tests/e2e/web_build.test.mjs rebuilds
// into a temporary folder and compares), so nothing here may depend on the
// time, the machine or the absolute path of the tree.
//
//   node web/build.mjs [OUTDIR]

import { build } from 'esbuild';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.resolve(process.argv[2] || path.join(here, 'dist'));
const assetsDir = path.join(outDir, 'assets');

const result = await build({
  // Relative to absWorkingDir so that no absolute path can leak into output.
  absWorkingDir: here,
  entryPoints: ['src/main.jsx'],
  outdir: assetsDir,
  entryNames: 'app-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // Licences of the bundled packages (uPlot's) stay with the code.
  legalComments: 'eof',
  charset: 'utf8',
  sourcemap: false,
  metafile: true,
  write: false,
  logLevel: 'warning',
});

const files = result.outputFiles.map((f) => ({ name: path.basename(f.path), bytes: f.contents }));
const js = files.find((f) => /^app-[A-Z0-9]+\.js$/.test(f.name));
const css = files.find((f) => /^app-[A-Z0-9]+\.css$/.test(f.name));
if (!js || !css) throw new Error(`build: expected app-<hash>.js and .css, got ${files.map((f) => f.name).join(', ')}`);

// The CSP allows no inline script or style: index.html only links.
const icon = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#5b5bd6"/>' +
  '<path d="M9 11h14M9 16h14M9 21h8" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>');
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="same-origin">
<title>Inlet</title>
<link rel="icon" href="${icon}">
<link rel="stylesheet" href="assets/${css.name}">
<script defer src="assets/${js.name}"></script>
</head>
<body>
<div id="app"></div>
<noscript><p>The Inlet dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;

// Old hashed files would pile up in the committed tree: the folder holds
// exactly this build.
await rm(assetsDir, { recursive: true, force: true });
await mkdir(assetsDir, { recursive: true });
for (const f of files) await writeFile(path.join(assetsDir, f.name), f.bytes);
await writeFile(path.join(outDir, 'index.html'), html);

const listed = (await readdir(assetsDir)).sort();
console.log(`web: ${path.relative(process.cwd(), outDir) || '.'}: index.html, ${listed.map((n) => `assets/${n}`).join(', ')}`);
