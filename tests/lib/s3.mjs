// A real S3-protocol server on 127.0.0.1 for the black-box tests.
//
// s3rver (npm) keeps the objects and answers the S3 REST API. In front of
// it sits a gate of ours that adds what AWS, R2 and MinIO enforce and
// s3rver 3.7.1 does not, so a test against it fails where they would:
//   - every request is SigV4-signed with the right key, region and service,
//     checked by recomputing the signature with `aws4` (an independent
//     implementation, not ours and not libcurl's), and every x-amz-* header
//     is among the signed ones;
//   - x-amz-content-sha256 is present and is the SHA-256 of the body;
//   - DeleteObjects carries a Content-MD5 that matches its body;
//   - CompleteMultipartUpload names parts that were uploaded, with their
//     ETags, and every part but the last has at least 5 MiB;
//   - AbortMultipartUpload and ListMultipartUploads, which s3rver lacks,
//     are answered here from s3rver's own upload folders.
// It also logs every request, can fail the next requests on purpose
// (retries), shrink list pages (continuation tokens), and go down and come
// back on the same port.
//
// Tests look at the bucket through inspect helpers that ask s3rver
// directly, not through the code under test.

import http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import aws4 from 'aws4';
import S3rver from 's3rver';
import { makeTempDir } from './inlet.mjs';

const PART_MIN = 5 * 1024 * 1024;
const UNSIGNED = 'UNSIGNED-PAYLOAD';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

function xmlUnescape(s) {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]);
}

/** Values of every <tag>…</tag> in xml, unescaped. */
export function xmlValues(xml, tag) {
  const out = [];
  const re = new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g');
  for (let m; (m = re.exec(xml));) out.push(xmlUnescape(m[1]));
  return out;
}

function sendError(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendXml(res, status, body) {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** null when the request's signature holds, else [status, code, message]. */
function checkSignature(req, body, creds) {
  const auth = req.headers.authorization;
  if (!auth) return [403, 'AccessDenied', 'no Authorization header'];
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'AuthorizationHeaderMalformed', `cannot parse ${auth}`];
  const [, key, date, region, service, signedList, signature] = m;
  if (key !== creds.accessKey) return [403, 'InvalidAccessKeyId', `unknown key ${key}`];
  if (region !== creds.region) return [400, 'AuthorizationHeaderMalformed', `region ${region}, want ${creds.region}`];
  if (service !== 's3') return [400, 'AuthorizationHeaderMalformed', `service ${service}`];
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !amzDate.startsWith(date)) return [403, 'AccessDenied', 'x-amz-date missing or not the credential date'];
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!(Math.abs(Date.now() - when) < 15 * 60 * 1000)) return [403, 'RequestTimeTooSkewed', amzDate];
  const payload = req.headers['x-amz-content-sha256'];
  if (!payload) return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
  if (payload !== UNSIGNED && payload !== sha256(body)) return [400, 'XAmzContentSHA256Mismatch', 'the body does not hash to x-amz-content-sha256'];
  const signed = signedList.split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signed.includes(h)) return [403, 'AccessDenied', `${h} is not signed`];
  }
  for (const h of Object.keys(req.headers)) {
    if (h.startsWith('x-amz-') && !signed.includes(h)) return [403, 'AccessDenied', `${h} is not signed`];
  }
  const headers = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return [403, 'AccessDenied', `signed header ${h} is not in the request`];
    headers[h] = req.headers[h];
  }
  const signer = new aws4.RequestSigner(
    { method: req.method, host: req.headers.host, path: req.url, service: 's3', region, headers },
    { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey },
  );
  // First, so the signer takes its time from x-amz-date: otherwise it
  // signs with the clock's now, a second late now and then.
  signer.prepareRequest();
  if (signer.signedHeaders() !== signedList) return [403, 'SignatureDoesNotMatch', `signed headers ${signedList}, aws4 signs ${signer.signedHeaders()}`];
  if (signer.signature() !== signature) {
    return [403, 'SignatureDoesNotMatch', `canonical request, as aws4 sees it:\n${signer.canonicalString()}`];
  }
  return null;
}

export class S3Server {
  constructor() {
    this.bucket = 'inlet-test';
    this.accessKey = 'AKIAINLETTEST0000001';
    this.secretKey = 'inlet/test+secret:key=with-odd/chars';
    this.region = 'eu-central-1';
    this.log = []; // {method, url, status}
    this.rejected = []; // requests the gate refused: {method, url, status, code, message}
    this.faults = []; // {match(req), status, code}, consumed in order
    this.maxKeys = null; // when set, list pages hold at most this many keys
  }

  /** INLET_S3_* for an inlet process using this server. */
  env(extra = {}) {
    return {
      INLET_S3_ENDPOINT: `http://127.0.0.1:${this.port}`,
      INLET_S3_BUCKET: this.bucket,
      INLET_S3_REGION: this.region,
      INLET_S3_ACCESS_KEY: this.accessKey,
      INLET_S3_SECRET_KEY: this.secretKey,
      INLET_S3_PATH_STYLE: '1',
      ...extra,
    };
  }

  get uploadsDir() {
    return path.join(this.dir, this.bucket, '._S3rver_uploads');
  }

  async start() {
    this.dir = await makeTempDir('inlet-s3-');
    this.s3rver = new S3rver({ port: 0, address: '127.0.0.1', directory: this.dir, silent: true, configureBuckets: [{ name: this.bucket }] });
    const addr = await this.s3rver.run();
    this.backendPort = addr.port;
    this.gate = http.createServer((req, res) => this.handle(req, res).catch((e) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', String(e && e.stack || e));
      else res.destroy();
    }));
    await this.listen(0);
    return this;
  }

  listen(port) {
    return new Promise((resolve, reject) => {
      this.gate.once('error', reject);
      this.gate.listen(port, '127.0.0.1', () => {
        this.gate.off('error', reject);
        this.port = this.gate.address().port;
        resolve();
      });
    });
  }

  /** Stops answering: the port refuses connections until up(). */
  async down() {
    await new Promise((resolve) => {
      this.gate.close(() => resolve());
      this.gate.closeAllConnections();
    });
  }

  /** Answers again, on the same port. */
  up() {
    return this.listen(this.port);
  }

  async stop() {
    if (this.gate.listening) await this.down();
    await this.s3rver.close();
  }

  /** The next request that match(req) accepts gets status and code instead of an answer. */
  failNext(match, status = 503, code = 'SlowDown') {
    this.faults.push({ match, status, code });
  }

  /** The next request that match(req) accepts gets its answer cut off after bytes of body. */
  cutNext(match, bytes) {
    this.faults.push({ match, cutAfter: bytes });
  }

  async handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const entry = { method: req.method, url: req.url, status: 0, range: req.headers.range, ifMatch: req.headers['if-match'] };
    this.log.push(entry);
    res.on('finish', () => { entry.status = res.statusCode; });
    const refuse = (status, code, message) => {
      this.rejected.push({ method: req.method, url: req.url, status, code, message });
      sendError(res, status, code, message);
    };

    const bad = checkSignature(req, body, this);
    if (bad) return refuse(...bad);
    const fi = this.faults.findIndex((f) => f.match(req));
    let cutAfter = null;
    if (fi >= 0) {
      const [f] = this.faults.splice(fi, 1);
      entry.fault = f.cutAfter !== undefined ? 'cut' : f.status;
      if (f.cutAfter === undefined) return sendError(res, f.status, f.code, 'injected by the test');
      cutAfter = f.cutAfter;
    }

    const u = new URL(req.url, 'http://gate');
    const parts = u.pathname.split('/').slice(1);
    const bucket = decodeURIComponent(parts[0] || '');
    const key = parts.slice(1).map(decodeURIComponent).join('/');
    if (bucket !== this.bucket) return refuse(404, 'NoSuchBucket', `no bucket ${bucket}`);
    const q = u.searchParams;

    if (!key && req.method === 'GET' && q.has('uploads')) return this.listUploads(res);
    if (key && req.method === 'DELETE' && q.has('uploadId')) return this.abortUpload(res, key, q.get('uploadId'));
    if (!key && req.method === 'POST' && q.has('delete')) {
      const md5 = req.headers['content-md5'];
      if (!md5) return refuse(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
      if (md5 !== createHash('md5').update(body).digest('base64')) return refuse(400, 'BadDigest', 'Content-MD5 does not match the body');
    }
    if (key && req.method === 'POST' && q.has('uploadId')) {
      const problem = this.checkComplete(key, q.get('uploadId'), body.toString('utf8'));
      if (problem) return refuse(400, problem[0], problem[1]);
    }
    if (!key && req.method === 'GET' && q.get('list-type') === '2') return this.listV2(res, q);
    if (key && req.method === 'GET' && req.headers['if-match']) {
      // s3rver ignores If-Match; S3 answers 412 when the object changed.
      const head = await this.backend(u.pathname, 'HEAD');
      if (head.status === 200 && head.headers.etag !== req.headers['if-match']) {
        return sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
    }
    return this.forward(req, res, req.url, body, cutAfter);
  }

  /** ListObjectsV2, over s3rver's version 1 listing: s3rver 3.7.1 makes its
   * continuation tokens with DES, which today's OpenSSL no longer has. The
   * tokens made here hold '/', '+' and '=', as S3's do, so a client that
   * does not percent-encode them is caught. */
  async listV2(res, q) {
    const maxKeys = Math.min(Number(q.get('max-keys') || 1000), this.maxKeys || 1000);
    const v1 = new URLSearchParams({ 'max-keys': String(maxKeys) });
    const prefix = q.get('prefix') || '';
    if (prefix) v1.set('prefix', prefix);
    const token = q.get('continuation-token');
    if (token) {
      if (!token.endsWith('/+=')) return sendError(res, 400, 'InvalidArgument', 'The continuation token provided is incorrect');
      v1.set('marker', Buffer.from(token.slice(0, -3), 'base64').toString('utf8'));
    }
    const r = await this.backend(`/${this.bucket}?${v1}`);
    if (r.status !== 200) return sendXml(res, r.status, r.body.toString('utf8').replace(/^<\?xml[^>]*>\s*/, ''));
    const xml = r.body.toString('utf8');
    const contents = xml.match(/<Contents>.*?<\/Contents>/gs) || [];
    const keys = xmlValues(xml, 'Key');
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
    const next = truncated ? `${Buffer.from(keys[keys.length - 1]).toString('base64')}/+=` : null;
    sendXml(res, 200, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${this.bucket}</Name>` +
      `<Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
      `<IsTruncated>${truncated}</IsTruncated>${token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : ''}` +
      `${next ? `<NextContinuationToken>${xmlEscape(next)}</NextContinuationToken>` : ''}${contents.join('')}</ListBucketResult>`);
  }

  /** Passes the request on to s3rver; with cutAfter, the answer's connection
   * is cut once that many body bytes went out. */
  forward(req, res, target, body, cutAfter = null) {
    const headers = { ...req.headers, 'content-length': String(body.length) };
    delete headers.authorization; // checked here; s3rver 3.7.1 cannot
    delete headers['transfer-encoding'];
    delete headers.expect;
    return new Promise((resolve) => {
      const up = http.request({ host: '127.0.0.1', port: this.backendPort, method: req.method, path: target, headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        if (cutAfter === null) {
          ur.pipe(res);
        } else {
          let sent = 0;
          ur.on('data', (c) => {
            if (sent + c.length >= cutAfter) {
              res.write(c.subarray(0, cutAfter - sent), () => res.socket && res.socket.destroy());
              ur.destroy();
              resolve();
              return;
            }
            sent += c.length;
            res.write(c);
          });
          ur.on('end', () => res.end());
        }
        ur.on('end', resolve);
        ur.on('error', () => { res.destroy(); resolve(); });
      });
      res.on('close', () => { up.destroy(); resolve(); });
      up.on('error', (e) => {
        if (!res.headersSent) sendError(res, 500, 'InternalError', String(e));
        else res.destroy();
        resolve();
      });
      up.end(body);
    });
  }

  /** [{key, uploadId}] of the multipart uploads begun and neither completed nor aborted. */
  openUploads() {
    if (!existsSync(this.uploadsDir)) return [];
    return readdirSync(this.uploadsDir)
      .filter((id) => existsSync(path.join(this.uploadsDir, id, 'key')))
      .map((id) => ({ uploadId: id, key: readFileSync(path.join(this.uploadsDir, id, 'key'), 'utf8') }));
  }

  listUploads(res) {
    const items = this.openUploads().map((u) => `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.uploadId}</UploadId></Upload>`);
    sendXml(res, 200, `<ListMultipartUploadsResult><Bucket>${this.bucket}</Bucket><IsTruncated>false</IsTruncated>${items.join('')}</ListMultipartUploadsResult>`);
  }

  abortUpload(res, key, id) {
    const dir = path.join(this.uploadsDir, id);
    if (!/^[0-9a-f]+$/.test(id) || !existsSync(path.join(dir, 'key')) || readFileSync(path.join(dir, 'key'), 'utf8') !== key) {
      return sendError(res, 404, 'NoSuchUpload', `no upload ${id} of ${key}`);
    }
    rmSync(dir, { recursive: true, force: true });
    res.writeHead(204);
    res.end();
  }

  /** null when Complete's body names uploaded parts rightly, else [code, message]. */
  checkComplete(key, id, xml) {
    const dir = path.join(this.uploadsDir, id);
    if (!/^[0-9a-f]+$/.test(id) || !existsSync(path.join(dir, 'key'))) return ['NoSuchUpload', `no upload ${id}`];
    const numbers = xmlValues(xml, 'PartNumber').map(Number);
    const etags = xmlValues(xml, 'ETag');
    if (!numbers.length || numbers.length !== etags.length) return ['MalformedXML', 'parts and ETags do not pair up'];
    for (let i = 0; i < numbers.length; i++) {
      if (i && numbers[i] <= numbers[i - 1]) return ['InvalidPartOrder', 'parts out of order'];
      const file = path.join(dir, String(numbers[i]));
      if (!existsSync(file)) return ['InvalidPart', `part ${numbers[i]} was not uploaded`];
      const md5 = readFileSync(`${file}.md5`, 'utf8').replace(/"/g, '');
      if (etags[i].replace(/"/g, '') !== md5) return ['InvalidPart', `part ${numbers[i]}: ETag ${etags[i]}, uploaded ${md5}`];
      if (i < numbers.length - 1 && statSync(file).size < PART_MIN) return ['EntityTooSmall', `part ${numbers[i]} is under 5 MiB`];
    }
    return null;
  }

  // ---- looking at the bucket without the code under test ------------------

  backend(pathAndQuery, method = 'GET') {
    return new Promise((resolve, reject) => {
      http.request({ host: '127.0.0.1', port: this.backendPort, path: pathAndQuery, method }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      }).on('error', reject).end();
    });
  }

  /** Every key in the bucket under prefix. */
  async keys(prefix = '') {
    const out = [];
    let marker = null;
    for (;;) {
      const q = new URLSearchParams({ prefix });
      if (marker) q.set('marker', marker);
      const r = await this.backend(`/${this.bucket}?${q}`);
      if (r.status !== 200) throw new Error(`list: ${r.status} ${r.body}`);
      const xml = r.body.toString('utf8');
      const keys = xmlValues(xml, 'Key');
      out.push(...keys);
      if (!/<IsTruncated>true<\/IsTruncated>/.test(xml) || !keys.length) return out.sort();
      marker = keys[keys.length - 1];
    }
  }

  /** The stored bytes of key. */
  async object(key) {
    const r = await this.backend(`/${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`);
    if (r.status !== 200) throw new Error(`get ${key}: ${r.status}`);
    return r.body;
  }

  /** Logged requests whose method matches and whose URL matches re. */
  requests(method, re = /.*/) {
    return this.log.filter((e) => e.method === method && re.test(e.url));
  }
}

/** A started S3Server; stop() it in after(). */
export async function startS3() {
  return new S3Server().start();
}
