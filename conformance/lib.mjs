// Shared helpers for the conformance scripts (run by conformance_test.go).
//
// Every server here listens on 127.0.0.1 port 0 and is closed by its owner;
// every script arms a watchdog so that it always exits on its own.

import http from 'node:http';

import { buildSchema, parse } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';

// Apollo's gateway sends OpenTelemetry metrics to Apollo's servers unless
// this is set when the gateway is constructed (@apollo/gateway 2.14.4,
// dist/index.js). Nothing here may leave the machine.
process.env.APOLLO_TELEMETRY_DISABLED = 'true';

/**
 * Reads the GraphQL endpoint URL (e.g. http://127.0.0.1:8080/graphql) from
 * argv[2]; exits with usage text when it is missing or not loopback.
 */
export function endpointArg(script) {
  const url = process.argv[2];
  if (!url) {
    console.error(`usage: node conformance/${script} <graphql-url>   e.g. http://127.0.0.1:8080/graphql`);
    process.exit(2);
  }
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
    console.error(`refusing non-loopback endpoint ${url}`);
    process.exit(2);
  }
  return url;
}

/**
 * Fails the process if it has not finished within ms (a hung server or
 * request must not hang the Go test). The timer does not keep node alive.
 */
export function watchdog(ms, what) {
  setTimeout(() => {
    console.error(`FAIL: ${what} did not finish within ${ms} ms`);
    process.exit(3);
  }, ms).unref();
}

/** Thrown by check() with a message naming what differed. */
export class CheckError extends Error {}

/** Throws a CheckError with msg unless cond holds. */
export function check(cond, msg) {
  if (!cond) throw new CheckError(msg);
}

/** Throws unless a and b are deeply equal (JSON comparison of plain data). */
export function checkEqual(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  check(g === w, `${what}:\n  got  ${g}\n  want ${w}`);
}

/**
 * The credential the Go tests hand the scripts (PROCOREGRAPH_AUTHORIZATION,
 * e.g. "Bearer pgk_..."), as request headers; empty when none is set.
 */
export function authHeaders() {
  const a = process.env.PROCOREGRAPH_AUTHORIZATION;
  return a ? { authorization: a } : {};
}

/**
 * POSTs a GraphQL request as application/json and returns the parsed body.
 * Throws on a non-2xx status or a body that is not JSON.
 */
export async function postGraphQL(url, query, variables, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...authHeaders(), ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`POST ${url}: status ${res.status}, body is not JSON: ${text.slice(0, 500)}`);
  }
  if (!res.ok) {
    throw new Error(`POST ${url}: status ${res.status}: ${text.slice(0, 2000)}`);
  }
  return body;
}

/** Like postGraphQL, but throws when the answer has errors or no data. */
export async function queryData(url, query, variables) {
  const body = await postGraphQL(url, query, variables);
  if (body.errors?.length || !body.data) {
    throw new Error(`query against ${url} failed:\n${query}\n${JSON.stringify(body, null, 2).slice(0, 4000)}`);
  }
  return body.data;
}

/** Fetches a federation subgraph's SDL through `{ _service { sdl } }`. */
export async function fetchSubgraphSDL(url) {
  const data = await queryData(url, '{ _service { sdl } }');
  const sdl = data._service?.sdl;
  check(typeof sdl === 'string' && sdl.length > 0, `${url}: _service.sdl is empty`);
  return sdl;
}

/** Listens on 127.0.0.1:0 and resolves to the base URL. */
export function listenLoopback(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(`http://127.0.0.1:${server.address().port}`);
    });
  });
}

/** Closes an http.Server, dropping idle keep-alive connections. */
export function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

// ---------------------------------------------------------------------------
// The "schedule" test subgraph.
//
// A second Federation v2 subgraph that extends procoregraph's Project entity
// by its key. It is written by hand on graphql-js (no @apollo/subgraph, which
// needs Node 22): the SDL below is what `_service { sdl }` returns, and the
// executable schema adds the federation plumbing (_Any, _Entity, _Service,
// Query._entities, Query._service).

/** The schedule subgraph's SDL as composition sees it. */
export const SCHEDULE_SDL = `extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

# Project is procore's entity; this subgraph adds schedule data by its key.
# (No descriptions on Project or its key, so composition has no description to reconcile.)
type Project @key(fields: "id") {
  id: ID!
  "ON_TRACK, AT_RISK or LATE; a pure function of the id (scheduleHealthOf)."
  scheduleHealth: String!
}

type Query {
  "Projects the schedule team watches, as references: every field but scheduleHealth comes from the procore subgraph through _entities."
  scheduleWatchlist: [Project!]!
}
`;

const SCHEDULE_PLUMBING = `
directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
scalar _Any
union _Entity = Project
type _Service { sdl: String! }
extend type Query {
  _entities(representations: [_Any!]!): [_Entity]!
  _service: _Service!
}
`;

const HEALTH = ['ON_TRACK', 'AT_RISK', 'LATE'];

/**
 * The schedule health the schedule subgraph reports for a project id: a pure
 * function of the id, so a check can compute the expected value itself.
 */
export function scheduleHealthOf(id) {
  return HEALTH[Number(BigInt(id) % 3n)];
}

/**
 * Starts the schedule subgraph on 127.0.0.1:0.
 * watchlist: project ids (strings) that Query.scheduleWatchlist returns, in order.
 * Resolves to { url, close, calls }, where calls records each operation the
 * subgraph executed: { field: '_entities'|'_service'|'scheduleWatchlist', ids? }.
 */
export async function startScheduleSubgraph({ watchlist = [] } = {}) {
  const schema = buildSchema(SCHEDULE_SDL + SCHEDULE_PLUMBING);
  const calls = [];
  const project = (id) => ({ __typename: 'Project', id: String(id), scheduleHealth: scheduleHealthOf(id) });
  const rootValue = {
    scheduleWatchlist: () => {
      calls.push({ field: 'scheduleWatchlist' });
      return watchlist.map(project);
    },
    _entities: ({ representations }) => {
      calls.push({ field: '_entities', ids: representations.map((r) => r.id) });
      return representations.map((r) => (r.__typename === 'Project' && r.id != null ? project(r.id) : null));
    },
    _service: () => {
      calls.push({ field: '_service' });
      return { sdl: SCHEDULE_SDL };
    },
  };
  const handler = createHandler({ schema, rootValue });
  const server = http.createServer((req, res) => {
    if (new URL(req.url, 'http://x').pathname !== '/graphql') {
      res.writeHead(404).end();
      return;
    }
    handler(req, res);
  });
  const base = await listenLoopback(server);
  return { url: `${base}/graphql`, close: () => closeServer(server), calls };
}

/** parse() re-exported so scripts share one graphql instance. */
export { parse };

// ---------------------------------------------------------------------------
// Composition.

/**
 * Composes subgraphs ([{ name, url, sdl }]) with @apollo/composition.
 * Resolves to { supergraphSdl, hints, result }; throws an Error listing every
 * composition error (and the hints) when composition fails.
 */
export async function composeSubgraphs(subgraphs) {
  const { composeServices } = await import('@apollo/composition');
  const result = composeServices(subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })));
  const hints = (result.hints ?? []).map((h) => `${h.definition?.code ?? 'HINT'}: ${h.message}`);
  if (result.errors?.length) {
    const errs = result.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
    throw new CheckError(`composition failed with ${errs.length} error(s):\n  ${errs.join('\n  ')}` +
      (hints.length ? `\nhints:\n  ${hints.join('\n  ')}` : ''));
  }
  return { supergraphSdl: result.supergraphSdl, hints, result };
}
