// Composition check: procoregraph's subgraph SDL, fetched live through
// `{ _service { sdl } }`, composes with @apollo/composition together with the
// "schedule" test subgraph that extends Project by its key.
//
// usage: node conformance/compose.mjs http://127.0.0.1:8080/graphql
// Exit 0 when every check passes; 1 with the reasons otherwise.

import { Kind } from 'graphql';

import {
  SCHEDULE_SDL, CheckError, check, checkEqual, composeSubgraphs, endpointArg, fetchSubgraphSDL, parse, watchdog,
} from './lib.mjs';

// The entities issue 3 requires, each keyed by id.
const ENTITIES = ['Commitment', 'Company', 'Invoice', 'Project', 'RFI', 'Submittal', 'User', 'Vendor'];

const url = endpointArg('compose.mjs');
watchdog(30_000, 'compose.mjs');

function argValue(dir, name) {
  const arg = dir.arguments?.find((a) => a.name.value === name);
  return arg?.value.kind === Kind.ENUM || arg?.value.kind === Kind.STRING ? arg.value.value : undefined;
}

async function main() {
  const sdl = await fetchSubgraphSDL(url);
  const doc = parse(sdl);

  // Federation 2: the SDL links the federation v2 spec (without it, composition
  // would treat the subgraph as Federation 1 and silently upgrade it).
  const links = doc.definitions
    .filter((d) => d.kind === Kind.SCHEMA_EXTENSION || d.kind === Kind.SCHEMA_DEFINITION)
    .flatMap((d) => d.directives ?? [])
    .filter((d) => d.name.value === 'link')
    .map((d) => argValue(d, 'url'));
  check(links.some((u) => /^https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+$/.test(u ?? '')),
    `subgraph SDL does not @link the federation v2 spec; links: ${JSON.stringify(links)}`);

  // Every required entity has @key(fields: "id").
  const keyed = doc.definitions
    .filter((d) => d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION)
    .filter((d) => d.directives?.some((k) => k.name.value === 'key' && argValue(k, 'fields') === 'id'))
    .map((d) => d.name.value);
  const missing = ENTITIES.filter((e) => !keyed.includes(e));
  check(missing.length === 0, `entities without @key(fields: "id") in the subgraph SDL: ${missing.join(', ')}`);
  console.log(`subgraph SDL: ${sdl.length} bytes, federation link ${links.join(' ')}, keyed entities: ${keyed.sort().join(' ')}`);

  // Compose with the schedule subgraph.
  const { supergraphSdl, hints, result } = await composeSubgraphs([
    { name: 'procore', url, sdl },
    { name: 'schedule', url: 'http://127.0.0.1:1/graphql', sdl: SCHEDULE_SDL },
  ]);
  console.log(`composed: supergraph ${supergraphSdl.length} bytes, ${hints.length} hint(s)`);
  for (const h of hints) console.log(`  hint ${h}`);

  // The supergraph knows Project as an entity of both subgraphs, keyed by id,
  // and routes name to procore and scheduleHealth to schedule.
  const superDoc = parse(supergraphSdl);
  const projectDefs = superDoc.definitions.filter((d) => d.name?.value === 'Project');
  check(projectDefs.length === 1, 'supergraph has no single Project type');
  const joinTypes = projectDefs[0].directives
    .filter((d) => d.name.value === 'join__type')
    .map((d) => `${argValue(d, 'graph')}:${argValue(d, 'key')}`)
    .sort();
  checkEqual(joinTypes, ['PROCORE:id', 'SCHEDULE:id'], 'Project @join__type (graph:key)');
  const owner = (field) => {
    const f = projectDefs[0].fields.find((x) => x.name.value === field);
    check(f, `supergraph Project has no field ${field}`);
    const graphs = f.directives.filter((d) => d.name.value === 'join__field').map((d) => argValue(d, 'graph'));
    return graphs;
  };
  checkEqual(owner('scheduleHealth'), ['SCHEDULE'], 'Project.scheduleHealth @join__field graphs');
  checkEqual(owner('name'), ['PROCORE'], 'Project.name @join__field graphs');

  // The API schema clients see exposes fields of both subgraphs.
  const api = result.schema.toAPISchema().toGraphQLJSSchema();
  const projectFields = Object.keys(api.getType('Project').getFields());
  for (const f of ['id', 'name', 'scheduleHealth', 'rfis', 'submittals']) {
    check(projectFields.includes(f), `API schema Project lacks ${f}`);
  }
  const queryFields = Object.keys(api.getQueryType().getFields());
  for (const f of ['projects', 'project', 'viewer', 'scheduleWatchlist']) {
    check(queryFields.includes(f), `API schema Query lacks ${f}`);
  }
  for (const e of ENTITIES) check(api.getType(e), `API schema lacks entity ${e}`);

  // Control: the same pipeline must reject a conflicting subgraph (a
  // non-shareable Project.name of another type), or the checks above prove nothing.
  const conflicting = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Project @key(fields: "id") { id: ID! name: Int! }
type Query { conflicting: Project }
`;
  let rejected = null;
  try {
    await composeSubgraphs([{ name: 'procore', url, sdl }, { name: 'conflicting', url: 'http://127.0.0.1:1/graphql', sdl: conflicting }]);
  } catch (e) {
    if (!(e instanceof CheckError)) throw e;
    rejected = e.message;
  }
  check(rejected && /INVALID_FIELD_SHARING|FIELD_TYPE_MISMATCH/.test(rejected),
    `composition accepted a subgraph whose Project.name conflicts with procore's: ${rejected}`);
  console.log('control: a conflicting Project.name is rejected (' + rejected.split('\n')[1].trim().split(':')[0] + ')');

  console.log('PASS compose');
}

main().then(() => process.exit(0), (err) => {
  console.error(`FAIL compose: ${err instanceof CheckError ? err.message : err.stack}`);
  process.exit(1);
});
