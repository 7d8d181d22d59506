// A real clickhouse-server for the tests: run as the current user on
// 127.0.0.1 with ports picked free, a temporary folder for its data, config
// and logs, and one user with a password. start() waits for /ping; stop()
// and start() again keep the data and the ports (ClickHouse "restarted").

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeTempDir, SCALE } from './inlet.mjs';
import { request } from './http.mjs';

const START_TIMEOUT_MS = 30_000 * SCALE;

/** clickhouse-server on PATH or where Debian puts it. */
export function clickhouseBinary() {
  for (const dir of [...(process.env.PATH || '').split(':'), '/usr/sbin', '/usr/bin']) {
    const p = path.join(dir || '.', 'clickhouse-server');
    if (dir && existsSync(p)) return p;
  }
  throw new Error('clickhouse-server not found: install it (scripts/deps.sh test)');
}

/** A port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const live = new Set();
process.on('exit', () => {
  for (const c of live) {
    try { c.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
});

export class ClickHouse {
  /** Writes the config; start() runs the server. */
  static async create() {
    const ch = new ClickHouse();
    ch.dir = await makeTempDir('inlet-clickhouse-');
    ch.httpPort = await freePort();
    ch.tcpPort = await freePort();
    ch.user = 'inlet';
    // Characters a URL must escape: the server has to decode them.
    ch.password = `p@ss:w/rd ${randomBytes(6).toString('hex')}`;
    const d = ch.dir;
    await writeFile(path.join(d, 'config.xml'), `<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>${d}/server.log</log><errorlog>${d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ch.httpPort}</http_port>
  <tcp_port>${ch.tcpPort}</tcp_port>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>50</max_concurrent_queries>
</yandex>
`);
    await writeFile(path.join(d, 'users.xml'), `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_threads>2</max_threads></default></profiles>
  <users>
    <${ch.user}>
      <password>${ch.password}</password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </${ch.user}>
  </users>
  <quotas><default></default></quotas>
</yandex>
`);
    return ch;
  }

  get base() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** INLET_CLICKHOUSE_URL for database db. */
  inletUrl(db) {
    return `http://${encodeURIComponent(this.user)}:${encodeURIComponent(this.password)}@127.0.0.1:${this.httpPort}/${db}`;
  }

  async start() {
    this.out = [];
    this.proc = spawn(clickhouseBinary(), [`--config-file=${path.join(this.dir, 'config.xml')}`], {
      cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    this.proc.stdout.on('data', (c) => this.out.push(c));
    this.proc.stderr.on('data', (c) => this.out.push(c));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => { live.delete(this); resolve({ code, signal }); }));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!live.has(this)) break;
      const r = await request(`${this.base}/ping`, { timeout: 1000 }).catch(() => null);
      if (r && r.status === 200 && r.text === 'Ok.\n') return;
      await sleep(100);
    }
    const log = await readFile(path.join(this.dir, 'server.err.log'), 'utf8').catch(() => '');
    throw new Error(`clickhouse-server did not answer /ping within ${START_TIMEOUT_MS} ms\n${Buffer.concat(this.out)}\n${log.slice(-3000)}`);
  }

  /** kill -9 (a graceful stop waits seconds for open keep-alive
   * connections); resolves once it is gone. The data stays. */
  async stop() {
    if (!this.proc || !live.has(this)) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Runs sql as the test's user; resolves the answer text (throws unless 200). */
  async query(sql) {
    const auth = Buffer.from(`${this.user}:${this.password}`).toString('base64');
    const r = await request(`${this.base}/`, { method: 'POST', headers: { Authorization: `Basic ${auth}` }, body: sql });
    if (r.status !== 200) throw new Error(`ClickHouse: ${sql}\n→ ${r.status} ${r.text}`);
    return r.text;
  }

  /** Rows of a TabSeparated answer, split into fields. */
  async rows(sql) {
    const text = await this.query(`${sql} FORMAT TabSeparated`);
    return text.split('\n').filter(Boolean).map((l) => l.split('\t'));
  }
}
