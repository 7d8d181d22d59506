// A throwaway redis-server on a free 127.0.0.1 port for the black-box
// tests: nothing saved, killed by stop() (or when the test process exits).

import { spawn } from 'node:child_process';
import net from 'node:net';

const live = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when a raw PING on port gets +PONG. */
function pinged(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => sock.write('PING\r\n'));
    let got = '';
    sock.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) {
        sock.destroy();
        resolve(got.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
  });
}

/**
 * Starts redis-server on `port` (a free one when omitted). Resolves
 * { port, url, proc, stop() }; start() again on the same port brings it back.
 */
export async function startRedis({ port, waitMs = 10_000 } = {}) {
  const p = port || await freePort();
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => proc.once('exit', r));
  const r = {
    port: p,
    url: `redis://127.0.0.1:${p}/0`,
    proc,
    exited,
    async stop() {
      live.delete(r);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
  live.add(r);
  const end = Date.now() + waitMs;
  while (!(await pinged(p))) {
    if (Date.now() > end || proc.exitCode !== null) {
      await r.stop();
      throw new Error(`redis-server on ${p} did not answer PING within ${waitMs} ms`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  return r;
}

process.on('exit', () => {
  for (const r of live) {
    try { r.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
});
