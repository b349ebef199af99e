// A subscriber driven by the Go tests (multipart_test.go) through the real
// Apollo Client (@apollo/client, npm): its HttpLink sends a subscription as
// an HTTP POST with `Accept: multipart/mixed;boundary=graphql;
// subscriptionSpec=1.0,application/json` and reads the multipart answer
// (Apollo's multipart HTTP protocol for GraphQL subscriptions). Nothing here
// parses the protocol for Apollo Client: the fetch it is given is the global
// one, wrapped only to report when the response headers arrive and to count
// the heartbeat parts in a copy of the body.
//
// usage: node conformance/apollo-multipart.mjs '<json config>'
//   config: {"url": "http://127.0.0.1:PORT/graphql", "query": "subscription ...",
//            "variables": {...}, "timeoutMs": 60000}
//
// It subscribes at once and writes one JSON line to stdout per happening:
//   {"type":"headers","status":200,"message":"<content-type>"}   fetch resolved
//   {"type":"heartbeat"}                             an empty `{}` part arrived
//   {"type":"next","payload":{data, errors}}         one event, as Apollo Client gives it
//   {"type":"error","message":...,"payload":[...]}   the subscription failed (GraphQL
//                                                    or protocol errors, with extensions)
//   {"type":"complete"}                              the stream ended normally
// Commands come as JSON lines on stdin: {"cmd":"ping"} (answer {"type":"pong"}),
// {"cmd":"exit"}. It exits by itself after timeoutMs, and when stdin closes.

import readline from 'node:readline';

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';

const cfg = JSON.parse(process.argv[2] || '{}');
if (!cfg.url || !cfg.query) {
  console.error('usage: node conformance/apollo-multipart.mjs \'{"url":"http://127.0.0.1:8080/graphql","query":"subscription { ... }"}\'');
  process.exit(2);
}
const host = new URL(cfg.url).hostname;
if (host !== '127.0.0.1' && host !== 'localhost') {
  console.error(`refusing non-loopback endpoint ${cfg.url}`);
  process.exit(2);
}
setTimeout(() => {
  emit({ type: 'error', message: `watchdog: ${cfg.timeoutMs ?? 60000} ms elapsed` });
  process.exit(3);
}, cfg.timeoutMs ?? 60000).unref();

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// observe counts the `{}` parts of a copy of the body. A part is reported
// once the boundary after it has arrived, as a client could parse it.
async function observe(body) {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\r\n--graphql', 1)) > -1) {
      const part = buf.slice(0, i);
      buf = buf.slice(i);
      const body = part.slice(part.indexOf('\r\n\r\n') + 4);
      if (part.startsWith('\r\n--graphql') && body.trim() === '{}') emit({ type: 'heartbeat' });
    }
  }
}

async function reportingFetch(input, init) {
  const res = await fetch(input, init);
  emit({ type: 'headers', status: res.status, message: res.headers.get('content-type') });
  if (!res.body) return res;
  const [forClient, forUs] = res.body.tee();
  observe(forUs).catch(() => {});
  return new Response(forClient, { status: res.status, statusText: res.statusText, headers: res.headers });
}

const headers = process.env.PROCOREGRAPH_AUTHORIZATION ? { authorization: process.env.PROCOREGRAPH_AUTHORIZATION } : {};
const client = new ApolloClient({
  link: new HttpLink({ uri: cfg.url, fetch: reportingFetch, headers }),
  cache: new InMemoryCache(),
});

const errorsOf = (err) => err?.errors ?? (err ? [{ message: String(err.message ?? err) }] : []);

client.subscribe({ query: gql(cfg.query), variables: cfg.variables ?? {} }).subscribe({
  next: (result) => {
    if (result.error) {
      emit({ type: 'error', message: result.error.message, payload: errorsOf(result.error) });
      return;
    }
    emit({ type: 'next', payload: { data: result.data ?? null } });
  },
  error: (err) => emit({ type: 'error', message: err?.message ?? String(err), payload: errorsOf(err) }),
  complete: () => emit({ type: 'complete' }),
});

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  if (cmd.cmd === 'ping') emit({ type: 'pong' });
  if (cmd.cmd === 'exit') process.exit(0);
});
rl.on('close', () => process.exit(0));
