// The command line: help, version, unknown flags, init, keys create/list/revoke.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  runInlet, lastLine, makeDataDir, startServer, cleanup, initAccount, createKeyCli,
} from '../lib/inlet.mjs';
import { apiClient } from '../lib/http.mjs';

after(cleanup);

const T = { timeout: 60_000 };

test('inlet --help prints usage on stdout, exit 0', T, async () => {
  const r = await runInlet(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /usage/i);
  for (const cmd of ['serve', 'init', 'keys', 'version']) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`), `--help mentions ${cmd}`);
});

test('inlet serve --help prints usage on stdout, exit 0', T, async () => {
  const r = await runInlet(['serve', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /usage/i);
  assert.match(r.stdout, /--listen/);
  assert.match(r.stdout, /--data/);
});

for (const cmd of [['init'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke']]) {
  test(`inlet ${cmd.join(' ')} --help exits 0 with usage`, T, async () => {
    const r = await runInlet([...cmd, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /usage/i);
  });
}

test('inlet version prints a version', T, async () => {
  const r = await runInlet(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\d+\.\d+(\.\d+)?/);
});

for (const args of [['--no-such-flag'], ['serve', '--no-such-flag'], ['init', '--bogus', 'x'], ['keys', 'list', '--frobnicate']]) {
  test(`unknown flag: inlet ${args.join(' ')} → exit 2, usage on stderr`, T, async () => {
    const r = await runInlet(args);
    assert.equal(r.code, 2, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.match(r.stderr, /usage/i);
  });
}

test('init, keys create/list/revoke against a stopped server, then served', T, async (t) => {
  const data = await makeDataDir();
  const email = 'first@example.test';

  const accountId = await initAccount(data, { email, account: 'Acme Forms' });
  assert.match(accountId, /^acc_[A-Za-z0-9_-]+$/);

  await t.test('a second init for the same email → exit 1 with a message', async () => {
    const again = await runInlet(['init', '--data', data, '--email', email, '--password-stdin'], { input: 'another password\n' });
    assert.equal(again.code, 1, `exit ${again.code}: ${again.stdout}${again.stderr}`);
    assert.ok(again.stderr.trim().length > 0, 'a message on stderr');
    assert.doesNotMatch(lastLine(again.stdout), /^acc_/, 'no account id printed');
  });

  const token1 = await createKeyCli(data, accountId, 'deploy');
  const token2 = await createKeyCli(data, accountId, 'laptop');
  assert.match(token1, /^inlet_sk_\S{16,}$/);
  assert.notEqual(token1, token2);

  const list = await runInlet(['keys', 'list', '--data', data, '--account', accountId]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const deployLine = lines.find((l) => /\bdeploy\b/.test(l));
  const laptopLine = lines.find((l) => /\blaptop\b/.test(l));
  assert.ok(deployLine && laptopLine, `one line per key:\n${list.stdout}`);
  assert.notEqual(deployLine, laptopLine);
  for (const tok of [token1, token2]) assert.ok(!list.stdout.includes(tok), 'keys list never prints a token');
  const idOf = (line) => (line.match(/\bkey_[A-Za-z0-9_-]+/) || [])[0];
  const laptopId = idOf(laptopLine);
  assert.ok(laptopId, `a key id (key_...) on the line: ${laptopLine}`);
  assert.ok(idOf(deployLine) && idOf(deployLine) !== laptopId);
  // The displayed prefix is a beginning of the token, shorter than it.
  const fields = laptopLine.split(/[\s,|]+/);
  assert.ok(fields.some((f) => f.length >= 4 && f.length < token2.length && token2.startsWith(f) && f !== 'inlet_sk_'),
    `a prefix of the token on the line: ${laptopLine}`);

  const rev = await runInlet(['keys', 'revoke', '--data', data, '--account', accountId, laptopId]);
  assert.equal(rev.code, 0, rev.stderr);

  const server = await startServer(data);
  const api1 = apiClient(server.url, token1);
  const acc = await api1.get('/api/v1/account');
  assert.equal(acc.status, 200, acc.text);
  assert.equal(acc.json.id, accountId);
  assert.equal(acc.json.name, 'Acme Forms');

  const revoked = await apiClient(server.url, token2).get('/api/v1/account');
  assert.equal(revoked.status, 401, 'a revoked key gets 401');
  assert.equal(revoked.json?.error?.code, 'unauthorized');

  await server.stop();
});

test('CLI against the data folder of a running server', T, async () => {
  const data = await makeDataDir();
  const server = await startServer(data);

  const accountId = await initAccount(data, { email: 'live@example.test' });
  const token = await createKeyCli(data, accountId, 'live');
  const api = apiClient(server.url, token);
  const ok = await api.get('/api/v1/account');
  assert.equal(ok.status, 200, `a key created while serving works at once: ${ok.text}`);
  assert.equal(ok.json.id, accountId);

  const list = await runInlet(['keys', 'list', '--data', data, '--account', accountId]);
  assert.equal(list.code, 0, list.stderr);
  const id = (list.stdout.match(/\bkey_[A-Za-z0-9_-]+/) || [])[0];
  assert.ok(id, list.stdout);
  const rev = await runInlet(['keys', 'revoke', '--data', data, '--account', accountId, id]);
  assert.equal(rev.code, 0, rev.stderr);
  const gone = await api.get('/api/v1/account');
  assert.equal(gone.status, 401, 'revoked while serving → 401');

  await server.stop();
});

test('inlet serve exits 0 on SIGINT too', T, async () => {
  const data = await makeDataDir();
  const server = await startServer(data);
  server.proc.kill('SIGINT');
  const { code, signal } = await server.waitExit();
  assert.equal(signal, null);
  assert.equal(code, 0);
  await server.stop(); // sanitizer check on what it wrote
});
