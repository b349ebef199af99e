// Composes a supergraph from live subgraphs with @apollo/composition and
// writes it for Hive Gateway. SUBGRAPHS is name=url,name=url; each
// subgraph is asked for `{ _service { sdl } }`, retrying for up to 120 s
// while it starts.
//
// usage: SUBGRAPHS=procore=http://procoregraph:8080/graphql,... node compose.mjs /out/supergraph.graphql
import { writeFileSync } from 'node:fs';

import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const out = process.argv[2];
const subgraphs = (process.env.SUBGRAPHS || '').split(',').filter(Boolean).map((s) => {
  const i = s.indexOf('=');
  return { name: s.slice(0, i), url: s.slice(i + 1) };
});
if (!out || subgraphs.length === 0) {
  console.error('usage: SUBGRAPHS=name=url,... node compose.mjs <out-file>');
  process.exit(2);
}

async function sdlOf(url) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
      });
      const body = await res.json();
      if (body?.data?._service?.sdl) return body.data._service.sdl;
      throw new Error(`no SDL: ${JSON.stringify(body).slice(0, 200)}`);
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${url}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const services = [];
for (const { name, url } of subgraphs) {
  services.push({ name, url, typeDefs: parse(await sdlOf(url)) });
}
const result = composeServices(services);
if (result.errors?.length) {
  for (const e of result.errors) console.error(`composition error: ${e.message}`);
  process.exit(1);
}
writeFileSync(out, result.supergraphSdl);
console.log(`supergraph of ${subgraphs.map((s) => s.name).join(', ')}: ${result.supergraphSdl.length} bytes -> ${out}`);
