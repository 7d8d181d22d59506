// A real SMTP server for email tests: aiosmtpd (Debian's python3-aiosmtpd)
// with the handler in tests/lib/inlet_smtpd.py, which writes every accepted
// message into a Maildir and can be told to refuse (4xx or 5xx) without a
// restart. Messages are read back from the Maildir and parsed just enough
// to check them: headers (unfolded, encoded-words decoded) and the text
// parts (quoted-printable decoded).
//
// startSmtp() resolves null when no python3 with aiosmtpd is found: the
// caller skips. Servers are stopped by stopSmtpServers() (register it with
// after()) and, at worst, when the test process exits.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, SCALE } from './inlet.mjs';

const live = new Set();

process.on('exit', () => {
  for (const s of live) {
    try { s.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
});

let pythonFound;
/** An interpreter that can import aiosmtpd (INLET_TEST_PYTHON first), or null. */
export function smtpPython() {
  if (pythonFound !== undefined) return pythonFound;
  pythonFound = null;
  for (const p of [process.env.INLET_TEST_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!p) continue;
    const r = spawnSync(p, ['-c', 'import aiosmtpd'], { stdio: 'ignore' });
    if (r.status === 0) {
      pythonFound = p;
      break;
    }
  }
  return pythonFound;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Parsing what arrived

/** RFC 2047 encoded-words (B and Q) in a header value, decoded. */
export function decodeWords(v) {
  return v
    .replace(/\?=\s+=\?/g, '?==?') // whitespace between adjacent words is not text
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs, enc, text) => {
      const bytes = enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      return bytes.toString(/utf-?8/i.test(cs) ? 'utf8' : 'latin1');
    });
}

/** Quoted-printable text (LF or CRLF lines) into a UTF-8 string. */
export function decodeQP(s) {
  const soft = s.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Splits a message (LF or CRLF) into {headers, body}. headers is an array
 * of [lower-case name, raw unfolded value] in order, so that a test can see
 * every header line there is, including duplicates.
 */
export function splitMessage(raw) {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2);
  const headers = [];
  for (const line of head.split('\n')) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1][1] += line.replace(/^[ \t]+/, ' ');
    else {
      const i = line.indexOf(':');
      headers.push([line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()]);
    }
  }
  return { headers, body };
}

/** A delivered message: raw text, headers, decoded text and HTML parts. */
export function parseMessage(raw, file) {
  const { headers, body } = splitMessage(raw);
  const header = (name) => {
    const h = headers.find(([n]) => n === name.toLowerCase());
    return h ? decodeWords(h[1]) : undefined;
  };
  const all = (name) => headers.filter(([n]) => n === name.toLowerCase()).map(([, v]) => decodeWords(v));
  const parts = [];
  const ctype = header('content-type') || 'text/plain';
  const bm = /boundary="?([^";]+)"?/i.exec(ctype);
  const decode = (hdrs, b) => (/quoted-printable/i.test(hdrs.find(([n]) => n === 'content-transfer-encoding')?.[1] || '') ? decodeQP(b) : b);
  if (/^multipart\//i.test(ctype) && bm) {
    const chunks = body.split(`--${bm[1]}`);
    for (const c of chunks.slice(1)) {
      if (c.startsWith('--')) break;
      const p = splitMessage(c.replace(/^\n/, ''));
      const pt = p.headers.find(([n]) => n === 'content-type')?.[1] || 'text/plain';
      parts.push({ type: pt.split(';')[0].trim().toLowerCase(), headers: p.headers, text: decode(p.headers, p.body.replace(/\n$/, '')) });
    }
  } else {
    parts.push({ type: ctype.split(';')[0].trim().toLowerCase(), headers, text: decode(headers, body) });
  }
  return {
    file,
    raw,
    headers,
    header,
    all,
    text: parts.find((p) => p.type === 'text/plain')?.text,
    html: parts.find((p) => p.type === 'text/html')?.text,
    parts,
    // aiosmtpd's trace headers: the envelope as the server saw it.
    rcptTo: (header('x-rcptto') || '').split(',').map((s) => s.trim()).filter(Boolean),
    mailFrom: header('x-mailfrom'),
  };
}

// ---------------------------------------------------------------------------
// The server

/**
 * Starts aiosmtpd on 127.0.0.1 (a free port). Resolves null without an
 * aiosmtpd, else {port, url, env(from), messages(), waitFor(pred, what, ms),
 * refuse(reply), accept(), attempts(), stop()}.
 */
export async function startSmtp() {
  const python = smtpPython();
  if (!python) return null;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'inlet-smtp-'));
  const maildir = path.join(dir, 'mb');
  const port = await freePort();
  const proc = spawn(python, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'inlet_smtpd.Inbox', maildir, dir], {
    env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'tests', 'lib') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const errs = [];
  proc.stderr.on('data', (c) => errs.push(c));
  let exited = false;
  proc.on('exit', () => { exited = true; });
  const server = {
    proc,
    port,
    dir,
    url: `smtp://127.0.0.1:${port}`,
    /** The INLET_SMTP_* environment for an inlet server that sends here. */
    env(from = 'Inlet <noreply@inlet.example>') {
      return { INLET_SMTP_URL: server.url, INLET_SMTP_FROM: from };
    },
    /** Every message delivered so far, oldest first. */
    async messages() {
      let names;
      try {
        names = await readdir(path.join(maildir, 'new'));
      } catch {
        return [];
      }
      names.sort(); // Maildir names begin with the delivery time
      const out = [];
      for (const n of names) out.push(parseMessage(await readFile(path.join(maildir, 'new', n), 'utf8'), n));
      return out;
    },
    /** The first message for which pred(m) holds, waiting up to ms (scaled). */
    async waitFor(pred, what, ms = 15_000) {
      const deadline = Date.now() + ms * SCALE;
      for (;;) {
        const m = (await server.messages()).find(pred);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`no message ${what} arrived within ${ms * SCALE} ms`);
        await sleep(100);
      }
    },
    /** Answers every DATA with reply ("451 4.3.0 try later") until accept(). */
    refuse: (reply) => writeFile(path.join(dir, 'reply'), reply),
    accept: () => unlink(path.join(dir, 'reply')).catch(() => {}),
    /** Every DATA so far: [{code, messageId}]. */
    async attempts() {
      const t = await readFile(path.join(dir, 'attempts'), 'utf8').catch(() => '');
      return t.split('\n').filter(Boolean).map((l) => {
        const [code, messageId = ''] = l.split(' ');
        return { code, messageId };
      });
    },
    async stop() {
      live.delete(server);
      if (!exited) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 50 && !exited; i++) await sleep(100);
        if (!exited) proc.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  live.add(server);
  for (let i = 0; i < 200; i++) {
    if (await accepts(port)) return server;
    if (exited) break;
    await sleep(50);
  }
  await server.stop();
  throw new Error(`aiosmtpd did not listen on 127.0.0.1:${port}\n${Buffer.concat(errs)}`);
}

/** Stops every server startSmtp() started. */
export async function stopSmtpServers() {
  for (const s of [...live]) await s.stop();
}
