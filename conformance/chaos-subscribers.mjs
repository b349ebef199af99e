// Many subscribers for the chaos tests (chaos_test.go), each a real
// `graphql-ws` client (graphql-transport-ws) over the `ws` WebSocket
// implementation, that resume with their last cursor when their server goes
// away, as the README tells clients to.
//
// usage: node conformance/chaos-subscribers.mjs '<json config>'
//   config: {"urls": ["ws://127.0.0.1:P1/graphql", "ws://127.0.0.1:P2/graphql"],
//            "query": "subscription($projectId: ID, $after: String) { ballInCourtChanged(...) { cursor ... } }",
//            "field": "ballInCourtChanged", "variables": {...}, "count": 100, "timeoutMs": 300000}
//
// Client i starts on urls[0]. When its socket closes or its subscription
// errors or completes (anything but our own dispose), it moves to the next
// url (round robin) and subscribes again with `after` = the cursor of the
// last event it received, after a short backoff.
//
// stdout, one JSON line each:
//   {"type":"ready"}                                    every client connected once
//   {"type":"client","payload":{"i":i,"events":[cursor, ...],"reconnects":n}}  one per client, on report
//   {"type":"report","payload":{"clients":n,"errors":[...]}}                    after them
// stdin commands (JSON lines):
//   {"cmd":"report","expect":N,"waitMs":M}  wait until every client holds N events (or M ms), then report
//   {"cmd":"exit"}
// It exits after timeoutMs, and when stdin closes.

import readline from 'node:readline';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const cfg = JSON.parse(process.argv[2] || '{}');
if (!Array.isArray(cfg.urls) || cfg.urls.length === 0 || !cfg.query || !cfg.field) {
  console.error('usage: node conformance/chaos-subscribers.mjs \'{"urls":[...],"query":"...","field":"...","count":100}\'');
  process.exit(2);
}
for (const u of cfg.urls) {
  const host = new URL(u).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') {
    console.error(`refusing non-loopback endpoint ${u}`);
    process.exit(2);
  }
}
setTimeout(() => {
  emit({ type: 'error', message: `watchdog: ${cfg.timeoutMs ?? 300000} ms elapsed` });
  process.exit(3);
}, cfg.timeoutMs ?? 300000).unref();

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const count = cfg.count ?? 1;
const auth = process.env.PROCOREGRAPH_AUTHORIZATION ? { Authorization: process.env.PROCOREGRAPH_AUTHORIZATION } : {};
const events = Array.from({ length: count }, () => []);
const last = Array.from({ length: count }, () => null);
const at = Array.from({ length: count }, () => 0);
const reconnects = Array.from({ length: count }, () => 0);
const clients = Array.from({ length: count }, () => null);
const connectedOnce = new Set();
const errors = [];
let exiting = false;

function start(i) {
  if (exiting) return;
  const url = cfg.urls[at[i] % cfg.urls.length];
  let moved = false;
  const move = (why) => {
    if (moved || exiting) return;
    moved = true;
    errors.push({ client: i, url, why: String(why).slice(0, 200) });
    if (errors.length > 50) errors.shift();
    const c = clients[i];
    clients[i] = null;
    if (c) c.dispose();
    at[i] += 1;
    reconnects[i] += 1;
    setTimeout(() => start(i), 100 + Math.floor(Math.random() * 200));
  };
  const c = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: auth,
    retryAttempts: 0,
    lazy: true,
    on: {
      connected: () => {
        if (!connectedOnce.has(i)) {
          connectedOnce.add(i);
          if (connectedOnce.size === count) emit({ type: 'ready' });
        }
      },
      closed: (ev) => move(`closed ${ev?.code ?? ''} ${ev?.reason ?? ''}`),
    },
  });
  clients[i] = c;
  c.subscribe(
    { query: cfg.query, variables: { ...(cfg.variables ?? {}), after: last[i] } },
    {
      next: (payload) => {
        const e = payload?.data?.[cfg.field];
        if (!e || payload.errors) {
          if (errors.length < 50) errors.push({ client: i, url, why: JSON.stringify(payload).slice(0, 300) });
          return;
        }
        events[i].push(e.cursor);
        last[i] = e.cursor;
      },
      error: (err) => move(err?.message ?? (Array.isArray(err) ? JSON.stringify(err) : err?.code ?? err)),
      complete: () => move('complete'),
    },
  );
}

for (let i = 0; i < count; i++) start(i);

async function report(expect, waitMs) {
  const until = Date.now() + (waitMs ?? 30000);
  while (Date.now() < until && events.some((e) => e.length < (expect ?? 0))) {
    await new Promise((r) => setTimeout(r, 50));
  }
  // One line per client (a single line for all would grow past what a
  // line reader takes in a long soak), then the summary.
  for (let i = 0; i < count; i++) emit({ type: 'client', payload: { i, events: events[i], reconnects: reconnects[i] } });
  emit({ type: 'report', payload: { clients: count, errors } });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  if (cmd.cmd === 'report') report(cmd.expect, cmd.waitMs);
  if (cmd.cmd === 'exit') shutdown();
});
rl.on('close', () => {
  console.error('chaos-subscribers: stdin closed');
  shutdown();
});

process.on('exit', (code) => console.error(`chaos-subscribers: exit ${code}`));
process.on('uncaughtException', (err) => {
  console.error(`chaos-subscribers: uncaught ${err?.stack ?? err}`);
  process.exit(4);
});

function shutdown() {
  exiting = true;
  for (const c of clients) if (c) c.dispose();
  setTimeout(() => process.exit(0), 100);
}
