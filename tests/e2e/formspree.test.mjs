// The official Formspree client (@formspree/core) talks to Inlet with only
// its base URL changed.
//
// How @formspree/core 4.x builds the request (read from its dist/index.mjs):
//   - `endpoint` is an option of submitForm(formKey, data, { endpoint }),
//     NOT of createClient(); createClient() only knows `project` and
//     `stripe`. An `endpoint` given to createClient is ignored and the post
//     goes to https://formspree.io, so the tests pass it to submitForm.
//   - URL: `${endpoint}/f/${formKey}` (or `${endpoint}/p/${project}/f/${formKey}`
//     with a project, which Inlet does not have).
//   - Headers: Accept: application/json, Formspree-Client: @formspree/core@4.x,
//     Content-Type: application/json for a plain object (FormData: multipart
//     set by fetch). Formspree-Session-Data only when `window` exists.
//   - Success needs a JSON object with a string "next" → {kind:'success', next}.
//     Errors need {"error": string} or {"errors": [{message,...}]}; codes are
//     kept only when Formspree knows them (form codes: EMPTY, FILES_TOO_BIG,
//     FORM_NOT_FOUND, INACTIVE, NO_FILE_UPLOADS, TOO_MANY_FILES, ...; field
//     codes: REQUIRED_FIELD_EMPTY, REQUIRED_FIELD_MISSING, TYPE_EMAIL,
//     TYPE_NUMERIC, TYPE_TEXT), else 'UNSPECIFIED'.
// Node 20 has fetch, FormData and Blob built in, and the client checks
// `typeof window` before touching browser globals: no polyfill is needed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, isSubmissionError } from '@formspree/core';
import { makeDataDir, startServer, cleanup, newAccount } from '../lib/inlet.mjs';
import { apiClient, createEndpoint, getSubmission, listAll } from '../lib/http.mjs';

const T = { timeout: 60_000 };
let server;
let api;

before(async () => {
  const data = await makeDataDir();
  const acct = await newAccount(data);
  server = await startServer(data);
  api = apiClient(server.url, acct.token);
});
after(cleanup);

test('submitForm with an object → success, next, and the submission in the API', T, async () => {
  const ep = await createEndpoint(api, 'formspree');
  const client = createClient();
  const result = await client.submitForm(ep.key, { email: 'x@y.z', message: 'hi' }, { endpoint: server.url });
  assert.equal(result.kind, 'success', `result: ${JSON.stringify(result)} ${isSubmissionError(result) ? JSON.stringify(result.getFormErrors()) : ''}`);
  assert.equal(result.next, `${server.url}/f/${ep.key}/thanks`);

  const subs = await listAll(api, ep.id);
  assert.equal(subs.length, 1);
  assert.deepEqual(subs[0].fields, { email: 'x@y.z', message: 'hi' });
  assert.equal(subs[0].status, 'inbox');
  assert.equal(subs[0].meta.reply_to, 'x@y.z');
});

test('submitForm with FormData (multipart, with a file)', T, async () => {
  const ep = await createEndpoint(api, 'formspree-formdata');
  const fd = new FormData();
  fd.append('name', 'Ada');
  fd.append('tags', 'a');
  fd.append('tags', 'b');
  const bytes = Buffer.from('%PDF-1.4 not really a pdf\n');
  fd.append('cv', new Blob([bytes], { type: 'application/pdf' }), 'cv.pdf');
  const result = await createClient().submitForm(ep.key, fd, { endpoint: server.url });
  assert.equal(result.kind, 'success', JSON.stringify(isSubmissionError(result) ? result.getFormErrors() : result));

  const [sub] = await listAll(api, ep.id);
  assert.deepEqual(sub.fields, { name: 'Ada', tags: ['a', 'b'] });
  assert.equal(sub.files.length, 1);
  assert.equal(sub.files[0].name, 'cv.pdf');
  assert.equal(sub.files[0].field, 'cv');
  assert.equal(sub.files[0].content_type, 'application/pdf');
  const f = await api.get(`/api/v1/submissions/${sub.id}/files/0`);
  assert.ok(f.body.equals(bytes));
});

test('special fields through the client', T, async () => {
  const ep = await createEndpoint(api, 'formspree-special');
  const result = await createClient().submitForm(ep.key, { message: 'm', _subject: 'From the client', _gotcha: '' }, { endpoint: server.url });
  assert.equal(result.kind, 'success');
  const [s] = await listAll(api, ep.id);
  assert.deepEqual(s.fields, { message: 'm' });
  assert.equal(s.meta.subject, 'From the client');
  const got = await getSubmission(api, s.id);
  assert.equal(got.id, s.id);
});

test('an unknown form key → SubmissionError with FORM_NOT_FOUND', T, async () => {
  const result = await createClient().submitForm('nosuchformkey0000000000', { message: 'hi' }, { endpoint: server.url });
  assert.ok(isSubmissionError(result), JSON.stringify(result));
  const codes = result.getFormErrors().map((e) => e.code);
  assert.ok(codes.includes('FORM_NOT_FOUND'), `form errors ${JSON.stringify(result.getFormErrors())}`);
});

test('an empty submission → EMPTY', T, async () => {
  const ep = await createEndpoint(api, 'formspree-empty');
  const result = await createClient().submitForm(ep.key, {}, { endpoint: server.url });
  assert.ok(isSubmissionError(result));
  assert.deepEqual(result.getFormErrors().map((e) => e.code), ['EMPTY']);
});

test('an inactive form → INACTIVE', T, async () => {
  const ep = await createEndpoint(api, 'formspree-inactive', { active: false });
  const result = await createClient().submitForm(ep.key, { a: '1' }, { endpoint: server.url });
  assert.ok(isSubmissionError(result));
  assert.ok(result.getFormErrors().some((e) => e.code === 'INACTIVE'), JSON.stringify(result.getFormErrors()));
});

test('field errors land on their fields', T, async () => {
  const ep = await createEndpoint(api, 'formspree-required', { required_fields: [{ name: 'email', type: 'email' }, { name: 'phone', type: 'text' }] });
  const missing = await createClient().submitForm(ep.key, { email: 'a@b.example' }, { endpoint: server.url });
  assert.ok(isSubmissionError(missing));
  assert.deepEqual(missing.getFieldErrors('phone').map((e) => e.code), ['REQUIRED_FIELD_MISSING']);

  const bad = await createClient().submitForm(ep.key, { email: 'nope', phone: '1' }, { endpoint: server.url });
  assert.ok(isSubmissionError(bad));
  assert.deepEqual(bad.getFieldErrors('email').map((e) => e.code), ['TYPE_EMAIL']);
  assert.ok(bad.getFieldErrors('email')[0].message.length > 0);

  const ok = await createClient().submitForm(ep.key, { email: 'a@b.example', phone: '555' }, { endpoint: server.url });
  assert.equal(ok.kind, 'success');
});

test('stops cleanly on SIGTERM', T, async () => {
  await server.stop();
});
