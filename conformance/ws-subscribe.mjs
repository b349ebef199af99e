// A subscriber driven by the Go tests (subscriptions_test.go) through the
// real `graphql-ws` client (npm, graphql-transport-ws protocol) over the `ws`
// WebSocket implementation.
//
// usage: node conformance/ws-subscribe.mjs '<json config>'
//   config: {"url": "ws://127.0.0.1:PORT/graphql", "query": "subscription ...",
//            "variables": {...}, "connectionParams": {...}, "timeoutMs": 60000}
//
// It subscribes at once and writes one JSON line to stdout per happening,
// each with "gen": the number of the subscribe command it is about (0 for
// the first subscription), so that late lines about a dropped client can be
// told apart:
//   {"type":"connected"}                         the server acknowledged connection_init
//   {"type":"next","payload":{data, errors}}     one event
//   {"type":"complete"}                          the server completed the subscription
//   {"type":"error","message":..., "code":...}   the subscription or socket failed
//   {"type":"closed","code":..., "reason":...}   the socket closed
// Commands come as JSON lines on stdin:
//   {"cmd":"subscribe","url":..., "variables":{...}}  drop the current client and
//                                                      subscribe again (e.g. on another
//                                                      replica, with an `after` cursor)
//   {"cmd":"ping"}   answer {"type":"pong","gen":...}: the script is alive and reading
//   {"cmd":"exit"}
// It exits by itself after timeoutMs, and when stdin closes.

import readline from 'node:readline';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const cfg = JSON.parse(process.argv[2] || '{}');
if (!cfg.url || !cfg.query) {
  console.error('usage: node conformance/ws-subscribe.mjs \'{"url":"ws://127.0.0.1:8080/graphql","query":"subscription { ... }"}\'');
  process.exit(2);
}
for (const u of [cfg.url]) {
  const host = new URL(u).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost') {
    console.error(`refusing non-loopback endpoint ${u}`);
    process.exit(2);
  }
}
setTimeout(() => {
  emit({ type: 'error', message: `watchdog: ${cfg.timeoutMs ?? 60000} ms elapsed` });
  process.exit(3);
}, cfg.timeoutMs ?? 60000).unref();

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

let client = null;
let gen = -1; // every line carries the generation of the client it is about

function subscribe(url, variables) {
  if (client) {
    const old = client;
    client = null;
    old.dispose();
  }
  gen += 1;
  const g = gen;
  const emitFor = (obj) => emit({ ...obj, gen: g });
  const c = createClient({
    url,
    webSocketImpl: WebSocket,
    // Given connectionParams are sent as they are (tests of refusals);
    // otherwise the credential the test handed over.
    connectionParams: cfg.connectionParams ?? (process.env.PROCOREGRAPH_AUTHORIZATION ? { Authorization: process.env.PROCOREGRAPH_AUTHORIZATION } : {}),
    retryAttempts: 0,
    lazy: true,
    on: {
      connected: () => emitFor({ type: 'connected' }),
      closed: (ev) => emitFor({ type: 'closed', code: ev?.code, reason: ev?.reason }),
    },
  });
  client = c;
  c.subscribe(
    { query: cfg.query, variables },
    {
      next: (payload) => emitFor({ type: 'next', payload }),
      error: (err) => emitFor({
        type: 'error',
        message: err?.message ?? err?.reason ?? String(err),
        code: err?.code,
        errors: Array.isArray(err) ? err : undefined,
      }),
      complete: () => emitFor({ type: 'complete' }),
    },
  );
}

subscribe(cfg.url, cfg.variables ?? {});

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'subscribe') {
    subscribe(cmd.url ?? cfg.url, cmd.variables ?? cfg.variables ?? {});
  } else if (cmd.cmd === 'ping') {
    emit({ type: 'pong', gen });
  } else if (cmd.cmd === 'exit') {
    client?.dispose();
    process.exit(0);
  }
});
rl.on('close', () => {
  client?.dispose();
  process.exit(0);
});
