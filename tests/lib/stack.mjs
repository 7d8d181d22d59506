// The whole "past one machine" deployment on 127.0.0.1, for the full-stack
// black-box test and the dashboard's browser flow through it: a throwaway
// PostgreSQL, redis-server, S3 server (tests/lib/s3.mjs) and ClickHouse,
// two or more inlet nodes sharing them (one master key, INLET_NODE_ID
// 1, 2, ...), and nginx running deploy/nginx/inlet.conf as shipped with its
// upstream lines pointed at the nodes. Every test client is one address
// (127.0.0.1), so the file's per-address request rates are raised here;
// tests/e2e/deploy.test.mjs checks them as shipped.

import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { makeDataDir, startServer, runInlet, lastLine, randomMasterKey, REPO_ROOT } from './inlet.mjs';
import { freePort, startNginx } from './nginx.mjs';
import { startPostgres } from './postgres.mjs';
import { startRedis } from './redis.mjs';
import { startS3 } from './s3.mjs';
import { ClickHouse } from './clickhouse.mjs';

let accountSeq = 0;

/**
 * Resolves { url (nginx), nodes: [InletServer], env, pg, redis, s3, ch,
 * startNode(i), cli(args, opts), newAccount(), stop() }.
 */
export async function startStack({ nodes = 2, nodeEnv = {} } = {}) {
  const stack = { nodes: [], dataDirs: [] };
  const parts = [];
  stack.stop = async () => {
    if (stack.proxy) stack.proxy.stop();
    for (const n of stack.nodes) if (n && !n.exitInfo) await n.stop({ expectCode: null }).catch(() => {});
    for (const p of parts.reverse()) await p.stop().catch(() => {});
  };
  try {
    stack.pg = await startPostgres();
    parts.push(stack.pg);
    stack.redis = await startRedis();
    parts.push(stack.redis);
    stack.s3 = await startS3();
    parts.push(stack.s3);
    stack.ch = await ClickHouse.create();
    await stack.ch.start();
    parts.push(stack.ch);
    const port = await freePort();
    stack.env = stack.s3.env({
      INLET_PUBLIC_URL: `http://127.0.0.1:${port}`,
      INLET_DATABASE_URL: stack.pg.url,
      INLET_REDIS_URL: stack.redis.url,
      INLET_CLICKHOUSE_URL: stack.ch.inletUrl('inlet'),
      INLET_MASTER_KEY: await randomMasterKey(),
      INLET_TRUST_PROXY: '1',
      ...nodeEnv,
    });
    for (let i = 0; i < nodes; i++) stack.dataDirs.push(await makeDataDir());
    stack.startNode = async (i) => {
      stack.nodes[i] = await startServer(stack.dataDirs[i], { env: { ...stack.env, INLET_NODE_ID: String(i + 1) } });
      return stack.nodes[i];
    };
    for (let i = 0; i < nodes; i++) await stack.startNode(i);

    let conf = await readFile(path.join(REPO_ROOT, 'deploy/nginx/inlet.conf'), 'utf8');
    const upstreams = conf.match(/ *server 127\.0\.0\.1:\d+[^\n]*\n/g);
    if (!upstreams || upstreams.length < 1) throw new Error('deploy/nginx/inlet.conf: no upstream server lines');
    const lines = stack.nodes.map((n) => `    server 127.0.0.1:${n.port} max_fails=3 fail_timeout=10s;\n`).join('');
    conf = conf.replace(upstreams.join(''), lines).replace(/rate=\d+r\/s/g, 'rate=100000r/s')
      .replace(/limit_conn inlet_conn \d+;/, 'limit_conn inlet_conn 1024;');
    stack.proxy = await startNginx(async (port, dir) => {
      await writeFile(path.join(dir, 'inlet.conf'), conf.replace(/listen 80;/, `listen 127.0.0.1:${port};`));
      return `  include ${dir}/inlet.conf;`;
    }, { port });
    stack.url = stack.proxy.url;
  } catch (e) {
    await stack.stop();
    throw e;
  }

  /** `inlet ...args` against the shared stores (node 1's folder). */
  stack.cli = (args, opts = {}) => runInlet([...args, '--data', stack.dataDirs[0]],
    { ...opts, env: { ...stack.env, ...(opts.env || {}) } });
  /** An account with an API key, made by the CLI: {accountId, token, email}. */
  stack.newAccount = async () => {
    accountSeq += 1;
    const email = `stack${accountSeq}-${process.pid}@example.test`;
    const init = await stack.cli(['init', '--email', email, '--password-stdin'], { input: 'correct horse battery staple\n' });
    if (init.code !== 0) throw new Error(`inlet init: ${init.stderr}`);
    const accountId = lastLine(init.stdout);
    const key = await stack.cli(['keys', 'create', '--account', accountId, '--name', `stack-${accountSeq}`]);
    if (key.code !== 0) throw new Error(`inlet keys create: ${key.stderr}`);
    return { accountId, token: lastLine(key.stdout), email };
  };
  return stack;
}
