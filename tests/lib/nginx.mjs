// A throwaway nginx on 127.0.0.1 for tests: its own temp folder, in the
// foreground, one worker, stopped by cleanup or stop().

import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { makeTempDir } from './inlet.mjs';
import { request } from './http.mjs';

export const NGINX = process.env.NGINX_PATH || '/usr/sbin/nginx';

/** A port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/**
 * Starts nginx with httpBody inside its http block. httpBody(port, dir)
 * gives the text; it must listen on 127.0.0.1:port and pass /healthz to an
 * inlet node (readiness is a 200 from there). port: the one to listen on
 * (default: a free one). Resolves {url, port, dir, stop}.
 */
export async function startNginx(httpBody, { port: wanted } = {}) {
  const dir = await makeTempDir('inlet-nginx-');
  const port = wanted || await freePort();
  await writeFile(path.join(dir, 'nginx.conf'), `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${await httpBody(port, dir)}
}
`);
  const proc = spawn(NGINX, ['-e', `${dir}/error.log`, '-p', dir, '-c', path.join(dir, 'nginx.conf')],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (c) => { err += c; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await request(`${url}/healthz`).then((r) => r.status === 200, () => false)) {
      return { url, port, dir, stop: () => proc.kill('SIGQUIT') };
    }
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`nginx did not start: ${err}`);
}
