// The Management API, route by route: happy paths and error statuses, as a
// table of requests and the answers they must get. Rows run in order; later
// rows use ids saved by earlier ones ({ep}, {sub}, ...).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { multipart } from '../lib/http.mjs';
import {
  ABSENT, exact, apiError, formError, isIsoMs, isString, contains, lacks, arrayOfLength, absoluteUrl, assertShape,
} from '../lib/match.mjs';
import { DEFAULT_SETTINGS, settingsWith, endpointShape, submissionShape, keyShape, formOk } from '../lib/contract.mjs';
import { runTable } from '../lib/table.mjs';

const JSON_CT = /^application\/json/;
const noBody = (res) => assert.equal(res.body.length, 0, `204 has no body, got ${res.text.slice(0, 200)}`);

const NOTE = Buffer.from('a small note\nwith two lines\n');
const UPLOAD = multipart([
  { name: 'message', value: 'hello' },
  { name: 'attachment', filename: 'note.txt', contentType: 'text/plain', data: NOTE },
]);

const CUSTOM_SETTINGS = {
  redirect_url: 'https://example.com/thanks',
  allowed_origins: ['https://example.com'],
  required_fields: [{ name: 'email', type: 'email' }, { name: 'age', type: 'number' }, { name: 'about', type: 'text' }],
  files: { enabled: false, max_count: 1, max_size: 1000 },
  active: false,
  ip: 'drop',
  rate_limit: { per_minute: 0, burst: 1 },
};

// A JSON body over any route's limit (the largest, with files, is 25 MiB).
const HUGE = Buffer.concat([Buffer.from('{"name":"'), Buffer.alloc(26 * 1024 * 1024, 'a'), Buffer.from('"}')]);

const ctx = { baseUrl: '', vars: {} };
let server;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data, { account: 'API Table Co' });
  server = await startServer(data);
  ctx.baseUrl = server.url;
  ctx.vars.token = acct.token;
  ctx.vars.accountId = acct.accountId;
});
after(cleanup);

const ACCOUNT = [
  { method: 'GET', path: '/api/v1/account', status: 200, headersOut: { 'content-type': JSON_CT },
    body: (c) => ({ id: c.vars.accountId, name: 'API Table Co', created_at: isIsoMs }) },
  { title: 'no Authorization → 401', method: 'GET', path: '/api/v1/account', auth: 'none', status: 401,
    headersOut: { 'content-type': JSON_CT }, body: apiError('unauthorized') },
  { title: 'unknown token → 401', method: 'GET', path: '/api/v1/account', auth: 'Bearer inlet_sk_0000000000000000000000000000', status: 401, body: apiError('unauthorized') },
  { title: 'token without "inlet_sk_" → 401', method: 'GET', path: '/api/v1/account', auth: 'Bearer garbage', status: 401, body: apiError('unauthorized') },
  { title: 'empty bearer → 401', method: 'GET', path: '/api/v1/account', auth: 'Bearer ', status: 401, body: apiError('unauthorized') },
  { title: 'Basic auth → 401', method: 'GET', path: '/api/v1/account', auth: 'Basic dXNlcjpwYXNz', status: 401, body: apiError('unauthorized') },
  { title: 'the token in another scheme → 401', method: 'GET', path: '/api/v1/account', auth: 'Token {token}', status: 401, body: apiError('unauthorized') },
  { title: 'no token on another route → 401', method: 'GET', path: '/api/v1/endpoints', auth: 'none', status: 401, body: apiError('unauthorized') },
  { title: 'PUT /account → 405', method: 'PUT', path: '/api/v1/account', json: {}, status: 405, body: apiError('method_not_allowed') },
  { title: 'unknown API route → 404', method: 'GET', path: '/api/v1/no-such-thing', status: 404, body: apiError('not_found') },
];

const ENDPOINTS = [
  { title: 'create with defaults → 201', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Contact' }, status: 201,
    headersOut: { 'content-type': JSON_CT },
    body: endpointShape({ name: 'Contact', kind: 'form', settings: DEFAULT_SETTINGS }),
    check: (res, c) => assert.equal(res.json.url, `${c.baseUrl}/f/${res.json.key}`, 'url is <base>/f/<key>'),
    save: (res, c) => { c.vars.ep = res.json.id; c.vars.epKey = res.json.key; } },
  { title: 'create kind=events → 201', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Events', kind: 'events' }, status: 201,
    body: endpointShape({ name: 'Events', kind: 'events', settings: DEFAULT_SETTINGS }),
    save: (res, c) => { c.vars.ep2 = res.json.id; c.vars.ep2Key = res.json.key; } },
  { title: 'create kind=form explicitly → 201', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Explicit', kind: 'form' }, status: 201,
    body: endpointShape({ name: 'Explicit', kind: 'form' }) },
  { title: 'create with every setting → 201, echoed', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Custom', settings: CUSTOM_SETTINGS }, status: 201,
    body: endpointShape({ name: 'Custom', settings: CUSTOM_SETTINGS }) },
  { title: 'create with some settings → the rest are defaults', method: 'POST', path: '/api/v1/endpoints',
    json: { name: 'Partial', settings: { ip: 'store', redirect_url: 'https://example.org/done' } }, status: 201,
    body: endpointShape({ settings: settingsWith({ ip: 'store', redirect_url: 'https://example.org/done' }) }) },
  { title: 'two endpoints never share a key', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Contact' }, status: 201,
    check: (res, c) => { assert.notEqual(res.json.key, c.vars.epKey); assert.notEqual(res.json.id, c.vars.ep); } },
  { title: 'create without name → 400', method: 'POST', path: '/api/v1/endpoints', json: {}, status: 400, body: apiError('invalid') },
  { title: 'name of the wrong type → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 42 }, status: 400, body: apiError('invalid') },
  { title: 'unknown kind → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', kind: 'bogus' }, status: 400, body: apiError('invalid') },
  { title: 'settings not an object → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: 'fast' }, status: 400, body: apiError('invalid') },
  { title: 'unknown ip mode → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { ip: 'sometimes' } }, status: 400, body: apiError('invalid') },
  { title: 'allowed_origins not an array → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { allowed_origins: 'https://a.example' } }, status: 400, body: apiError('invalid') },
  { title: 'required field of unknown type → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { required_fields: [{ name: 'a', type: 'date' }] } }, status: 400, body: apiError('invalid') },
  { title: 'active not a boolean → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { active: 'yes' } }, status: 400, body: apiError('invalid') },
  { title: 'redirect_url not a string → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { redirect_url: 12 } }, status: 400, body: apiError('invalid') },
  { title: 'files.max_count not a number → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { files: { enabled: true, max_count: 'ten', max_size: 10 } } }, status: 400, body: apiError('invalid') },
  { title: 'rate_limit.per_minute not a number → 400', method: 'POST', path: '/api/v1/endpoints', json: { name: 'x', settings: { rate_limit: { per_minute: 'fast', burst: 1 } } }, status: 400, body: apiError('invalid') },
  { title: 'malformed JSON → 400', method: 'POST', path: '/api/v1/endpoints', raw: '{"name":', headers: { 'Content-Type': 'application/json' }, status: 400, body: apiError('invalid') },
  { title: 'JSON array body → 400', method: 'POST', path: '/api/v1/endpoints', raw: '[]', headers: { 'Content-Type': 'application/json' }, status: 400, body: apiError('invalid') },
  { title: 'text/csv body → 415', method: 'POST', path: '/api/v1/endpoints', raw: 'name\nx\n', headers: { 'Content-Type': 'text/csv' }, status: 415, body: apiError('unsupported_media_type') },
  { title: '26 MiB body → 413', method: 'POST', path: '/api/v1/endpoints', raw: HUGE, socket: true, headers: { 'Content-Type': 'application/json' }, status: 413, body: apiError('too_big') },

  { title: 'list → data holds both', method: 'GET', path: '/api/v1/endpoints', status: 200, headersOut: { 'content-type': JSON_CT },
    body: (c) => ({ data: contains({ id: c.vars.ep, key: c.vars.epKey, name: 'Contact' }) }),
    check: (res, c) => {
      assert.ok(res.json.data.some((e) => e.id === c.vars.ep2), 'the events endpoint is listed');
      for (const e of res.json.data) assert.deepEqual(Object.keys(endpointShape()).filter((k) => !(k in e)), [], `listed endpoint has every field: ${JSON.stringify(e)}`);
    } },
  { title: 'get one', method: 'GET', path: '/api/v1/endpoints/{ep}', status: 200,
    body: (c) => endpointShape({ id: c.vars.ep, key: c.vars.epKey, name: 'Contact', kind: 'form', url: `${c.baseUrl}/f/${c.vars.epKey}`, settings: DEFAULT_SETTINGS }) },
  { title: 'PATCH name only → settings unchanged', method: 'PATCH', path: '/api/v1/endpoints/{ep}', json: { name: 'Contact us' }, status: 200,
    body: (c) => endpointShape({ id: c.vars.ep, key: c.vars.epKey, name: 'Contact us', settings: DEFAULT_SETTINGS }) },
  { title: 'PATCH settings → merged at top level', method: 'PATCH', path: '/api/v1/endpoints/{ep}',
    json: { settings: { redirect_url: 'https://example.com/ok', allowed_origins: ['https://example.com'] } }, status: 200,
    body: endpointShape({ name: 'Contact us', settings: settingsWith({ redirect_url: 'https://example.com/ok', allowed_origins: ['https://example.com'] }) }) },
  { title: 'a second PATCH keeps the first one', method: 'PATCH', path: '/api/v1/endpoints/{ep}', json: { settings: { ip: 'store' } }, status: 200,
    body: endpointShape({ settings: settingsWith({ ip: 'store', redirect_url: 'https://example.com/ok', allowed_origins: ['https://example.com'] }) }) },
  { title: 'PATCH a whole nested object', method: 'PATCH', path: '/api/v1/endpoints/{ep}',
    json: { settings: { files: { enabled: false, max_count: 3, max_size: 2048 }, rate_limit: { per_minute: 10, burst: 5 } } }, status: 200,
    body: endpointShape({ settings: settingsWith({ ip: 'store', redirect_url: 'https://example.com/ok', allowed_origins: ['https://example.com'],
      files: { enabled: false, max_count: 3, max_size: 2048 }, rate_limit: { per_minute: 10, burst: 5 } }) }) },
  { title: 'PATCH null redirect_url clears it', method: 'PATCH', path: '/api/v1/endpoints/{ep}', json: { settings: { redirect_url: null, allowed_origins: [] } }, status: 200,
    body: endpointShape({ settings: { redirect_url: null, allowed_origins: [], ip: 'store' } }) },
  { title: 'PATCH with a bad ip mode → 400', method: 'PATCH', path: '/api/v1/endpoints/{ep}', json: { settings: { ip: 'bogus' } }, status: 400, body: apiError('invalid') },
  { title: '… and nothing changed', method: 'GET', path: '/api/v1/endpoints/{ep}', status: 200, body: endpointShape({ name: 'Contact us', settings: { ip: 'store' } }) },
  { title: 'PATCH name of the wrong type → 400', method: 'PATCH', path: '/api/v1/endpoints/{ep}', json: { name: 7 }, status: 400, body: apiError('invalid') },
  { title: 'PATCH malformed JSON → 400', method: 'PATCH', path: '/api/v1/endpoints/{ep}', raw: '{', headers: { 'Content-Type': 'application/json' }, status: 400, body: apiError('invalid') },
  { title: 'PATCH unknown endpoint → 404', method: 'PATCH', path: '/api/v1/endpoints/ep_doesnotexist', json: { name: 'x' }, status: 404, body: apiError('not_found') },
  { title: 'GET unknown endpoint → 404', method: 'GET', path: '/api/v1/endpoints/ep_doesnotexist', status: 404, body: apiError('not_found') },
  { title: 'GET by public key instead of id → 404', method: 'GET', path: '/api/v1/endpoints/{epKey}', status: 404, body: apiError('not_found') },
  { title: 'DELETE unknown endpoint → 404', method: 'DELETE', path: '/api/v1/endpoints/ep_doesnotexist', status: 404, body: apiError('not_found') },
  { title: 'PUT one endpoint → 405', method: 'PUT', path: '/api/v1/endpoints/{ep}', json: { name: 'x' }, status: 405, body: apiError('method_not_allowed') },
  { title: 'DELETE the collection → 405', method: 'DELETE', path: '/api/v1/endpoints', status: 405, body: apiError('method_not_allowed') },
  { title: 'an endpoint to delete', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Doomed' }, status: 201,
    save: (res, c) => { c.vars.doomed = res.json.id; c.vars.doomedKey = res.json.key; } },
  { title: 'its form takes a post', method: 'POST', path: '/f/{doomedKey}', auth: 'none', json: { hello: 'world' }, status: 200, body: formOk() },
  { title: 'DELETE endpoint → 204', method: 'DELETE', path: '/api/v1/endpoints/{doomed}', status: 204, check: noBody },
  { title: '… then GET → 404', method: 'GET', path: '/api/v1/endpoints/{doomed}', status: 404, body: apiError('not_found') },
  { title: '… then its submissions → 404', method: 'GET', path: '/api/v1/endpoints/{doomed}/submissions', status: 404, body: apiError('not_found') },
  { title: '… then the list lacks it', method: 'GET', path: '/api/v1/endpoints', status: 200, body: (c) => ({ data: lacks({ id: c.vars.doomed }) }) },
  { title: '… then its form URL → 404 FORM_NOT_FOUND', method: 'POST', path: '/f/{doomedKey}', auth: 'none', json: { hello: 'again' }, status: 404, body: formError('FORM_NOT_FOUND') },
  { title: '… then DELETE again → 404', method: 'DELETE', path: '/api/v1/endpoints/{doomed}', status: 404, body: apiError('not_found') },
];

const KEYS = [
  { title: 'create a key → 201 with its token, once', method: 'POST', path: '/api/v1/keys', json: { name: 'ci' }, status: 201,
    body: keyShape({ name: 'ci', token: /^inlet_sk_\S{16,}$/ }),
    check: (res) => {
      assert.ok(res.json.token.startsWith(res.json.prefix), 'prefix is the beginning of the token');
      assert.ok(res.json.prefix.length < res.json.token.length, 'prefix is shorter than the token');
    },
    save: (res, c) => { c.vars.keyId = res.json.id; c.vars.newToken = res.json.token; } },
  { title: 'list keys → no tokens', method: 'GET', path: '/api/v1/keys', status: 200,
    body: (c) => ({ data: contains(keyShape({ id: c.vars.keyId, name: 'ci' })) }),
    check: (res, c) => {
      assertEvery(res.json.data, keyShape({ token: ABSENT }));
      assert.ok(!res.text.includes(c.vars.newToken), 'the token never appears again');
      assert.ok(!res.text.includes(c.vars.token), 'nor the CLI-made one');
      assert.ok(res.json.data.length >= 2, 'the CLI key is listed too');
    } },
  { title: 'the new token works', method: 'GET', path: '/api/v1/account', auth: 'Bearer {newToken}', status: 200, body: (c) => ({ id: c.vars.accountId }) },
  { title: 'create without name → 400', method: 'POST', path: '/api/v1/keys', json: {}, status: 400, body: apiError('invalid') },
  { title: 'name of the wrong type → 400', method: 'POST', path: '/api/v1/keys', json: { name: ['x'] }, status: 400, body: apiError('invalid') },
  { title: 'PATCH /keys → 405', method: 'PATCH', path: '/api/v1/keys', json: { name: 'x' }, status: 405, body: apiError('method_not_allowed') },
  { title: 'DELETE the key → 204', method: 'DELETE', path: '/api/v1/keys/{keyId}', status: 204, check: noBody },
  { title: 'the revoked token → 401', method: 'GET', path: '/api/v1/account', auth: 'Bearer {newToken}', status: 401, body: apiError('unauthorized') },
  { title: 'the other token still works', method: 'GET', path: '/api/v1/account', status: 200 },
  { title: 'DELETE unknown key → 404', method: 'DELETE', path: '/api/v1/keys/key_doesnotexist', status: 404, body: apiError('not_found') },
];

const SUBMISSIONS = [
  { title: 'an endpoint to read from', method: 'POST', path: '/api/v1/endpoints', json: { name: 'Inbox' }, status: 201,
    save: (res, c) => { c.vars.ep3 = res.json.id; c.vars.ep3Key = res.json.key; } },
  { title: 'empty list', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions', status: 200, body: exact({ data: [], next_cursor: null }) },
  { title: 'a multipart post with a file', method: 'POST', path: '/f/{ep3Key}', auth: 'none', raw: UPLOAD.body,
    headers: { 'Content-Type': UPLOAD.contentType, 'User-Agent': 'api-table/1.0' }, status: 200, body: formOk({ next: absoluteUrl }),
    save: (res, c) => { c.vars.sub = res.json.id; } },
  { title: 'list → the submission', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions', status: 200,
    body: (c) => ({ next_cursor: null, data: [submissionShape({
      id: c.vars.sub, endpoint_id: c.vars.ep3, status: 'inbox', fields: exact({ message: 'hello' }),
      files: [{ name: 'note.txt', field: 'attachment', size: NOTE.length, content_type: 'text/plain' }],
      meta: { user_agent: 'api-table/1.0' } })] }) },
  { title: 'get one', method: 'GET', path: '/api/v1/submissions/{sub}', status: 200, headersOut: { 'content-type': JSON_CT },
    body: (c) => submissionShape({ id: c.vars.sub, endpoint_id: c.vars.ep3, status: 'inbox', fields: exact({ message: 'hello' }), files: arrayOfLength(1) }) },
  { title: 'its file → exact bytes', method: 'GET', path: '/api/v1/submissions/{sub}/files/0', status: 200,
    headersOut: { 'content-type': /^text\/plain/, 'content-disposition': /attachment.*filename\*?=.*note\.txt/i },
    check: (res) => assert.deepEqual(res.body, NOTE) },
  { title: 'file index out of range → 404', method: 'GET', path: '/api/v1/submissions/{sub}/files/1', status: 404, body: apiError('not_found') },
  { title: 'unknown submission → 404', method: 'GET', path: '/api/v1/submissions/sub_doesnotexist', status: 404, body: apiError('not_found') },
  { title: 'unknown submission’s file → 404', method: 'GET', path: '/api/v1/submissions/sub_doesnotexist/files/0', status: 404, body: apiError('not_found') },
  { title: 'PATCH status spam → 200 updated', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'spam' }, status: 200,
    body: (c) => submissionShape({ id: c.vars.sub, status: 'spam', fields: exact({ message: 'hello' }) }) },
  { title: 'status=spam lists it', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?status=spam', status: 200,
    body: (c) => ({ data: [{ id: c.vars.sub, status: 'spam' }], next_cursor: null }) },
  { title: 'status=inbox does not', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?status=inbox', status: 200, body: { data: [], next_cursor: null } },
  { title: 'PATCH status trash', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'trash' }, status: 200, body: { status: 'trash' } },
  { title: 'PATCH status inbox', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'inbox' }, status: 200, body: { status: 'inbox' } },
  { title: 'PATCH unknown status → 400', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'deleted' }, status: 400, body: apiError('invalid') },
  { title: 'PATCH status of the wrong type → 400', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 3 }, status: 400, body: apiError('invalid') },
  { title: 'PATCH malformed JSON → 400', method: 'PATCH', path: '/api/v1/submissions/{sub}', raw: '{"status"', headers: { 'Content-Type': 'application/json' }, status: 400, body: apiError('invalid') },
  { title: 'PATCH unknown submission → 404', method: 'PATCH', path: '/api/v1/submissions/sub_doesnotexist', json: { status: 'spam' }, status: 404, body: apiError('not_found') },
  { title: 'limit over 200 → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?limit=201', status: 400, body: apiError('invalid') },
  { title: 'limit 200 is fine', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?limit=200', status: 200, body: { data: arrayOfLength(1) } },
  { title: 'limit not a number → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?limit=abc', status: 400, body: apiError('invalid') },
  { title: 'unknown status filter → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?status=bogus', status: 400, body: apiError('invalid') },
  { title: 'since not a time → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?since=yesterday', status: 400, body: apiError('invalid') },
  { title: 'until not a time → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?until=soon', status: 400, body: apiError('invalid') },
  { title: 'garbage cursor → 400', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions?cursor=%25%25not-a-cursor%25%25', status: 400, body: apiError('invalid') },
  { title: 'submissions of an unknown endpoint → 404', method: 'GET', path: '/api/v1/endpoints/ep_doesnotexist/submissions', status: 404, body: apiError('not_found') },
  { title: 'PUT a submission → 405', method: 'PUT', path: '/api/v1/submissions/{sub}', json: { status: 'spam' }, status: 405, body: apiError('method_not_allowed') },
  { title: 'POST to a file → 405', method: 'POST', path: '/api/v1/submissions/{sub}/files/0', json: {}, status: 405, body: apiError('method_not_allowed') },
  { title: 'POST to the submissions list → 405', method: 'POST', path: '/api/v1/endpoints/{ep3}/submissions', json: {}, status: 405, body: apiError('method_not_allowed') },
  { title: 'DELETE the submission → 204', method: 'DELETE', path: '/api/v1/submissions/{sub}', status: 204, check: noBody },
  { title: '… then GET → 404', method: 'GET', path: '/api/v1/submissions/{sub}', status: 404, body: apiError('not_found') },
  { title: '… then its file → 404', method: 'GET', path: '/api/v1/submissions/{sub}/files/0', status: 404, body: apiError('not_found') },
  { title: '… then PATCH → 404', method: 'PATCH', path: '/api/v1/submissions/{sub}', json: { status: 'inbox' }, status: 404, body: apiError('not_found') },
  { title: '… then DELETE again → 404', method: 'DELETE', path: '/api/v1/submissions/{sub}', status: 404, body: apiError('not_found') },
  { title: '… then the list is empty', method: 'GET', path: '/api/v1/endpoints/{ep3}/submissions', status: 200, body: exact({ data: [], next_cursor: null }) },
];

const OPERATIONS = [
  { title: 'healthz', method: 'GET', path: '/healthz', auth: 'none', status: 200, headersOut: { 'content-type': JSON_CT }, body: { status: 'ok' } },
  { title: 'metrics', method: 'GET', path: '/metrics', auth: 'none', status: 200, headersOut: { 'content-type': /^text\/plain/ },
    check: (res) => {
      for (const name of ['inlet_http_requests_total', 'inlet_writer_batch_size', 'inlet_vault_key_cache_hits_total']) {
        assert.match(res.text, new RegExp(`^${name}(_bucket|_sum|_count)?(\\{.*\\})? [0-9.eE+-]+$`, 'm'), `a sample of ${name}`);
      }
      assert.match(res.text, /^# TYPE inlet_http_requests_total counter$/m);
      const total = [...res.text.matchAll(/^inlet_http_requests_total(?:\{.*\})? ([0-9.eE+]+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
      assert.ok(total >= 50, `requests were counted (sum ${total})`);
    } },
];

test('account', { timeout: 60_000 }, (t) => runTable(t, ACCOUNT, ctx));
test('endpoints', { timeout: 120_000 }, (t) => runTable(t, ENDPOINTS, ctx));
test('keys', { timeout: 60_000 }, (t) => runTable(t, KEYS, ctx));
test('submissions', { timeout: 60_000 }, (t) => runTable(t, SUBMISSIONS, ctx));
test('healthz and metrics', { timeout: 60_000 }, (t) => runTable(t, OPERATIONS, ctx));

test('one JSON log line per request', { timeout: 30_000 }, async () => {
  const reqs = server.logLines().filter((l) => 'route' in l && 'status' in l);
  assert.ok(reqs.length >= 50, `request log lines: ${reqs.length}`);
  for (const l of reqs) {
    assertEvery([l], { id: (v) => typeof v === 'string' || typeof v === 'number', route: isString, status: Number.isInteger, bytes: Number.isInteger, duration_ms: (v) => typeof v === 'number' && v >= 0 });
  }
  for (const status of [200, 201, 204, 400, 401, 404, 405, 413, 415]) {
    assert.ok(reqs.some((l) => l.status === status), `a log line with status ${status}`);
  }
  assert.ok(reqs.some((l) => /healthz/.test(l.route)), 'route names the route');
  assert.ok(new Set(reqs.map((l) => String(l.id))).size === reqs.length, 'request ids are unique');
  for (const secret of [ctx.vars.token, ctx.vars.newToken]) assert.ok(!server.stderr().includes(secret), 'tokens never reach the log');
});

test('stops cleanly on SIGTERM', { timeout: 30_000 }, async () => {
  await server.stop();
});

function assertEvery(items, shape) {
  for (const it of items) assertShape(it, shape);
}
