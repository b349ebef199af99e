// End-to-end federation check: a real @apollo/gateway (+ @apollo/server) on
// loopback in front of procoregraph and the "schedule" test subgraph. The
// gateway introspects both subgraphs itself (IntrospectAndCompose), then
// one request resolves fields from both, in both directions:
//   1. procore -> schedule: Query.projects (procore) with Project.scheduleHealth
//      (schedule, fetched through schedule's _entities with procore's ids);
//   2. schedule -> procore: Query.scheduleWatchlist (schedule returns Project
//      references) with name, projectNumber and a nested rfis connection
//      (procore, fetched through procoregraph's _entities).
// Every value must equal what procoregraph answers directly.
//
// usage: node conformance/gateway.mjs http://127.0.0.1:8080/graphql
// Exit 0 when every check passes; 1 with the reasons otherwise.

import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';

import {
  CheckError, authHeaders, check, checkEqual, endpointArg, queryData, scheduleHealthOf, startScheduleSubgraph, watchdog,
} from './lib.mjs';

const url = endpointArg('gateway.mjs');
watchdog(45_000, 'gateway.mjs');

// The procore part of both gateway queries, also sent to procoregraph directly.
const PROJECT_FIELDS = 'id name projectNumber rfis(first: 2) { totalCount nodes { id subject } }';

const cleanups = [];

async function main() {
  // What procoregraph says directly.
  const direct = await queryData(url, `{ projects(first: 3) { nodes { ${PROJECT_FIELDS} } } }`);
  const projects = direct.projects.nodes;
  check(projects.length >= 2, `need at least 2 projects in the sandbox, got ${projects.length}`);
  const byId = new Map(projects.map((p) => [p.id, p]));
  // Reversed, so that order preserved through _entities is checked too.
  const watchlist = projects.map((p) => p.id).reverse();

  const schedule = await startScheduleSubgraph({ watchlist });
  cleanups.push(schedule.close);

  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [{ name: 'procore', url }, { name: 'schedule', url: schedule.url }],
    }),
    // The gateway calls procoregraph with the test's credential, as a
    // router holding a service key would.
    buildService: ({ url: subgraphURL }) => new RemoteGraphQLDataSource({
      url: subgraphURL,
      willSendRequest({ request }) {
        for (const [k, v] of Object.entries(authHeaders())) request.http.headers.set(k, v);
      },
    }),
  });
  const server = new ApolloServer({ gateway, plugins: [ApolloServerPluginLandingPageDisabled()] });
  const { url: gatewayURL } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  cleanups.unshift(() => server.stop());
  console.log(`apollo gateway at ${gatewayURL}, procore subgraph ${url}, schedule subgraph ${schedule.url}`);

  // 1. procore -> schedule.
  const withHealth = (p) => ({
    id: p.id, name: p.name, projectNumber: p.projectNumber, scheduleHealth: scheduleHealthOf(p.id), rfis: p.rfis,
  });
  const q1 = `{ projects(first: 3) { nodes { id name projectNumber scheduleHealth rfis(first: 2) { totalCount nodes { id subject } } } } }`;
  const callsBefore = schedule.calls.length;
  const r1 = await queryData(gatewayURL, q1);
  checkEqual(r1.projects.nodes, projects.map(withHealth), 'gateway projects{...scheduleHealth} vs procoregraph directly');
  const entityCalls = schedule.calls.slice(callsBefore).filter((c) => c.field === '_entities');
  checkEqual(entityCalls.map((c) => c.ids), [projects.map((p) => p.id)],
    'schedule _entities calls for query 1 (one batch with procore\'s ids)');
  console.log(`ok procore -> schedule: ${r1.projects.nodes.length} projects with scheduleHealth, one _entities batch`);

  // 2. schedule -> procore.
  const q2 = `{ scheduleWatchlist { scheduleHealth id name projectNumber rfis(first: 2) { totalCount nodes { id subject } } } }`;
  const r2 = await queryData(gatewayURL, q2);
  const want2 = watchlist.map((id) => {
    const p = byId.get(id);
    return { scheduleHealth: scheduleHealthOf(id), id, name: p.name, projectNumber: p.projectNumber, rfis: p.rfis };
  });
  checkEqual(r2.scheduleWatchlist, want2, 'gateway scheduleWatchlist{...procore fields} vs procoregraph directly');
  console.log(`ok schedule -> procore: ${r2.scheduleWatchlist.length} watchlist projects resolved through procoregraph's _entities`);

  // 3. Root fields of both subgraphs in one request.
  const r3 = await queryData(gatewayURL, `{ viewer { id } scheduleWatchlist { id name } }`);
  const viewer = await queryData(url, '{ viewer { id } }');
  checkEqual(r3, { viewer: viewer.viewer, scheduleWatchlist: want2.map(({ id, name }) => ({ id, name })) },
    'gateway { viewer scheduleWatchlist } vs procoregraph directly');
  console.log('ok both root fields in one request');

  console.log('PASS gateway');
}

async function cleanup() {
  for (const c of cleanups) {
    try {
      await c();
    } catch (err) {
      console.error(`cleanup: ${err}`);
    }
  }
}

main().then(async () => {
  await cleanup();
  process.exit(0);
}, async (err) => {
  console.error(`FAIL gateway: ${err instanceof CheckError ? err.message : err.stack}`);
  await cleanup();
  process.exit(1);
});
