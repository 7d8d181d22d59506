// One endpoint: its header and tabs; each tab is a page of its own.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../core/api.js';
import { href, go } from '../core/router.js';
import { Loading, ErrorBox, Badge } from '../ui/common.jsx';
import { CopyButton } from '../ui/copy.jsx';
import { InboxPage } from './inbox.jsx';
import { IssuesPage } from './issues.jsx';
import { IssuePage } from './issue.jsx';
import { EndpointAnalytics } from './analytics.jsx';
import { SetupPage } from './setup.jsx';
import { SettingsPage } from './settings.jsx';
import { WebhooksPage } from './webhooks.jsx';

function tabsOf(ep) {
  const first = ep.kind === 'events' ? { id: 'issues', label: 'Issues' } : { id: 'inbox', label: 'Inbox' };
  return [first, { id: 'analytics', label: 'Analytics' }, { id: 'setup', label: 'Setup' },
    { id: 'settings', label: 'Settings' }, { id: 'webhooks', label: 'Webhooks' }];
}

export function EndpointPage({ id, tab, sub, query }) {
  const [ep, setEp] = useState(null);
  const [error, setError] = useState(null);

  const load = () => get(`/endpoints/${id}`).then(setEp, setError);
  useEffect(() => { setEp(null); setError(null); load(); }, [id]);

  if (error) return <ErrorBox error={error} onRetry={() => { setError(null); load(); }} />;
  if (!ep) return <Loading />;

  const tabs = tabsOf(ep);
  const current = tabs.some((t) => t.id === tab) ? tab : tabs[0].id;
  if (tab && current !== tab) go(href('e', id, current));

  let body;
  if (current === 'inbox') body = <InboxPage ep={ep} query={query} />;
  else if (current === 'issues') body = sub ? <IssuePage ep={ep} id={sub} /> : <IssuesPage ep={ep} />;
  else if (current === 'analytics') body = <EndpointAnalytics ep={ep} />;
  else if (current === 'setup') body = <SetupPage ep={ep} />;
  else if (current === 'settings') body = <SettingsPage ep={ep} onSaved={setEp} />;
  else body = <WebhooksPage ep={ep} />;

  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb"><a href={href()}>Endpoints</a> <span aria-hidden="true">/</span></nav>
      <div class="page-head">
        <div class="ep-title">
          <h1>{ep.name}</h1>
          <Badge kind={ep.kind === 'events' ? 'accent' : 'neutral'}>{ep.kind === 'events' ? 'events' : 'form'}</Badge>
          {ep.settings && ep.settings.active === false && <Badge kind="warn">paused</Badge>}
        </div>
        <div class="ep-url">
          <code class="truncate" title={ep.url}>{ep.url}</code>
          <CopyButton text={ep.url} label="Copy URL" />
        </div>
      </div>
      <nav class="tabs" aria-label="Endpoint">
        {tabs.map((t) => (
          <a key={t.id} href={href('e', id, t.id)} aria-current={t.id === current ? 'page' : undefined}>{t.label}</a>
        ))}
      </nav>
      <div class="tab-body">{body}</div>
    </>
  );
}
