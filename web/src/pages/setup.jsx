// Ready-to-paste snippets for the endpoint. Each <pre> carries
// data-snippet="<kind>" (html, fetch, curl, formspree, inlet-js, sentry,
// trackx) so tests can take the exact text a user would copy.
import { Snippet, CopyButton } from '../ui/copy.jsx';

/** The server's public base URL: the endpoint's url without its route. */
function baseOf(ep) {
  const m = /^(https?:\/\/.+?)\/(f|v1)\/[^/]+$/.exec(ep.url || '');
  return m ? m[1] : location.origin;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The form's inputs: name, email, message, a file when files are on, the required fields, the honeypot. */
function formFields(ep, { file = true } = {}) {
  const s = ep.settings || {};
  const base = ['name', 'email', 'message'];
  const lines = [
    '  <label>Name <input type="text" name="name" required></label>',
    '  <label>Email <input type="email" name="email" required></label>',
    '  <label>Message <textarea name="message" required></textarea></label>',
  ];
  for (const f of s.required_fields || []) {
    if (base.includes(f.name)) continue;
    const type = f.type === 'email' ? 'email' : f.type === 'number' ? 'number' : 'text';
    lines.push(`  <label>${esc(f.name)} <input type="${type}" name="${esc(f.name)}" required></label>`);
  }
  if (file && !(s.files && s.files.enabled === false)) lines.push('  <label>Attachment <input type="file" name="attachment"></label>');
  // Inlet files a post whose honeypot is filled in as spam; people never see it.
  lines.push(`  <input type="text" name="${esc(s.honeypot || '_gotcha')}" tabindex="-1" autocomplete="off" hidden>`);
  lines.push('  <button type="submit">Send</button>');
  return lines.join('\n');
}

function FormSnippets({ ep }) {
  const base = baseOf(ep);
  const url = ep.url;
  const multipart = !(ep.settings && ep.settings.files && ep.settings.files.enabled === false);
  const html = `<form action="${esc(url)}" method="POST"${multipart ? ' enctype="multipart/form-data"' : ''}>
${formFields(ep)}
</form>`;
  const fetchJs = `const res = await fetch("${url}", {
  method: "POST",
  headers: { "Content-Type": "application/json", "Accept": "application/json" },
  body: JSON.stringify({ name: "Ada", email: "ada@example.com", message: "Hello" }),
});
const answer = await res.json(); // { ok: true, id, next } or { error, errors: [...] }`;
  const curl = `curl ${url} \\
  -H "Accept: application/json" \\
  -F name=Ada -F email=ada@example.com -F message=Hello${multipart ? ' \\\n  -F attachment=@photo.jpg' : ''}`;
  const formspree = `import { createClient } from "@formspree/core";

// No project: Inlet's forms are addressed by key alone.
const client = createClient();
const result = await client.submitForm("${ep.key}", { email, message }, {
  endpoint: "${base}", // instead of https://formspree.io
});
if (result.kind === "success") location.assign(result.next);`;
  const inletJs = `<script src="${base}/inlet.js" defer></script>

<form action="${esc(url)}" method="POST"${multipart ? ' enctype="multipart/form-data"' : ''} data-inlet>
${formFields(ep)}
</form>`;
  const origins = (ep.settings && ep.settings.allowed_origins) || [];
  return (
    <>
      <Snippet id="html" title="HTML form" code={html}
        note="Paste it into any page. After a post the browser lands on the thank-you page, or on the redirect URL of the settings." />
      <Snippet id="inlet-js" title="inlet.js (no page reload)" code={inletJs}
        note="The script turns every form with data-inlet into an AJAX form that shows the answer in place, and counts page views for Analytics." />
      <Snippet id="fetch" title="fetch (JSON)" code={fetchJs}
        note={origins.length ? `Allowed origins: ${origins.join(', ')}.` : 'Any origin may post; limit them under Settings → Allowed origins.'} />
      <Snippet id="curl" title="curl" code={curl} />
      <Snippet id="formspree" title="@formspree/core" code={formspree}
        note="Existing Formspree clients work with the address changed; field errors come back in Formspree's shape." />
    </>
  );
}

function EventSnippets({ ep }) {
  const sentry = `import * as Sentry from "@sentry/browser"; // or @sentry/node

Sentry.init({
  dsn: "${ep.dsn}",
});`;
  const trackx = `import * as trackx from "trackx"; // trackx/node on a server

trackx.setup("${ep.ingest_url || ep.url}");
trackx.ping(); // counts a session`;
  return (
    <>
      <section class="snippet" aria-label="DSN">
        <div class="snippet-head"><h3>Sentry DSN</h3><CopyButton text={ep.dsn || ''} /></div>
        <p class="muted small">Any Sentry SDK sends here with this DSN; nothing else changes.</p>
        <code class="dsn">{ep.dsn}</code>
      </section>
      <Snippet id="sentry" title="Sentry SDK" code={sentry} />
      <Snippet id="trackx" title="TrackX" code={trackx}
        note={`Browser reports (CSP report-uri, Reporting API) go to ${ep.ingest_url || ep.url}/report.`} />
    </>
  );
}

export function SetupPage({ ep }) {
  return (
    <div class="setup">
      <dl class="stats-row small">
        <div><dt>Key</dt><dd><code>{ep.key}</code></dd></div>
        <div><dt>Endpoint id</dt><dd><code>{ep.id}</code></dd></div>
        {ep.project_id && <div><dt>Project id</dt><dd><code>{ep.project_id}</code></dd></div>}
      </dl>
      {ep.kind === 'events' ? <EventSnippets ep={ep} /> : <FormSnippets ep={ep} />}
    </div>
  );
}
