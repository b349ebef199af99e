// A real federation gateway in front of procoregraph for subscriptions:
// @graphql-hive/gateway (npm) serving a supergraph composed with
// @apollo/composition from procoregraph's `_service { sdl }`, proxying
// subscriptions to the subgraph over graphql-transport-ws. A client
// subscribes to the Hive gateway over server-sent events. Driven by
// subscriptions_test.go.
//
// usage: node conformance/hive-gateway.mjs <subgraph-url> '<json {query, variables}>'
//
// Writes JSON lines to stdout:
//   {"type":"ready","url":"http://127.0.0.1:PORT/graphql"}  the gateway is listening
//   {"type":"next","payload":{data, errors}}               one event through the gateway
//   {"type":"complete"} / {"type":"error","message":...}
// It exits when stdin closes, and after 60 s at the latest.

import http from 'node:http';
import readline from 'node:readline';

import { composeServices } from '@apollo/composition';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import { parse } from 'graphql';

import { endpointArg } from './lib.mjs';

const subgraphURL = endpointArg('hive-gateway.mjs');
const op = JSON.parse(process.argv[3] || '{}');
setTimeout(() => {
  emit({ type: 'error', message: 'watchdog: 60 s elapsed' });
  process.exit(3);
}, 60_000).unref();

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const sdlRes = await fetch(subgraphURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const sdl = (await sdlRes.json()).data._service.sdl;
  const composed = composeServices([{ name: 'procore', url: subgraphURL, typeDefs: parse(sdl) }]);
  if (composed.errors?.length) {
    throw new Error('composition failed: ' + composed.errors.map((e) => e.message).join('; '));
  }
  const gateway = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    transportEntries: {
      procore: {
        options: {
          subscriptions: {
            kind: 'ws',
            location: new URL(subgraphURL).pathname,
            // The gateway authenticates to the subgraph with the test's key.
            options: { connectionParams: { Authorization: process.env.PROCOREGRAPH_AUTHORIZATION ?? '' } },
          },
        },
      },
    },
    logging: false,
  });
  const server = http.createServer(gateway);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/graphql`;
  emit({ type: 'ready', url });

  const close = async () => {
    server.closeAllConnections?.();
    server.close();
    await gateway.dispose?.();
    process.exit(0);
  };
  readline.createInterface({ input: process.stdin }).on('close', close);

  // Subscribe through the gateway over server-sent events.
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: op.query, variables: op.variables ?? {} }),
  });
  if (!res.ok) throw new Error(`subscribe through the gateway: HTTP ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (event === 'complete') emit({ type: 'complete' });
      else if (data) emit({ type: 'next', payload: JSON.parse(data) });
    }
  }
  emit({ type: 'complete' });
}

main().catch((err) => {
  emit({ type: 'error', message: err?.stack ?? String(err) });
  process.exit(1);
});
