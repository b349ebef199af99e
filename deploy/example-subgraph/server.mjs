// A small Apollo Federation v2 subgraph for the local stack: it extends
// procoregraph's Project (by its key, id) with scheduleHealth, a pure
// function of the id. Listens on PORT (default 4001) at /graphql.
import http from 'node:http';

import { buildSchema } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';

export const SDL = `extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Project @key(fields: "id") {
  id: ID!
  "ON_TRACK, AT_RISK or LATE."
  scheduleHealth: String!
}

type Query {
  "Projects the schedule team watches, as references."
  scheduleWatchlist: [Project!]!
}
`;

const PLUMBING = `
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
const project = (id) => ({ __typename: 'Project', id: String(id), scheduleHealth: HEALTH[Number(BigInt(id) % 3n)] });

const rootValue = {
  scheduleWatchlist: () => [],
  _entities: ({ representations }) =>
    representations.map((r) => (r.__typename === 'Project' && /^\d+$/.test(String(r.id)) ? project(r.id) : null)),
  _service: () => ({ sdl: SDL }),
};

const handler = createHandler({ schema: buildSchema(SDL + PLUMBING), rootValue });
const port = Number(process.env.PORT || 4001);
http
  .createServer((req, res) => {
    if (new URL(req.url, 'http://x').pathname !== '/graphql') {
      res.writeHead(404).end();
      return;
    }
    handler(req, res);
  })
  .listen(port, '0.0.0.0', () => console.log(`schedule subgraph on :${port}/graphql`));
