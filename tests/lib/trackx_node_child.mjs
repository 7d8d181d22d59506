// Runs trackx's Node client (trackx/node, unchanged) in a process of its own,
// as an application would: `node trackx_node_child.mjs <ingest_url> <tag>`.
// setup() takes over console.error and the process's error handlers, which
// is why this is not done inside the test runner. It sends one event from
// sendEvent(), one from console.error() and a ping, prints "sent" and stays
// up (the client has no flush; the test polls the API, then kills it).

import * as trackx from 'trackx/node';

const [url, tag] = process.argv.slice(2);
trackx.setup(url);
trackx.meta.release = `worker@${tag}`;

function syncInventory() {
  trackx.sendEvent(new Error(`inventory drift ${tag}`), { job: 'nightly' });
}

function reportConsole() {
  console.error(new TypeError(`stock level unreadable ${tag}`));
}

syncInventory();
reportConsole();
trackx.ping();
process.stdout.write('sent\n');
setTimeout(() => {}, 120_000);
