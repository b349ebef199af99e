// Package persisted holds the gateway's persisted-operation pieces, each a
// plug-in for gqlgen's handler.Server:
//
//   - RedisCache and MemoryCache: graphql.Cache[string] stores for gqlgen's
//     extension.AutomaticPersistedQuery (APQ). Keys are the sha256 hex of the
//     query; values are bounded in size (1 MiB by default); Redis entries
//     expire (24 h by default) and are checked against their key when read.
//   - Manifest and LoadManifest: a trusted-documents list, read from an Apollo
//     persisted query manifest or a GraphQL Code Generator client-preset
//     persisted-documents.json, validated entry by entry.
//   - Trusted: a handler extension that resolves a document id
//     (extensions.persistedQuery.sha256Hash, extensions.persistedQuery.id or
//     a top-level documentId, the latter carried by the DocumentIDs HTTP
//     middleware) against a Manifest and, with Only, refuses everything else.
//   - IntrospectionOff: refuses __schema and __type (INTROSPECTION_DISABLED).
//   - RouterOnly: refuses _entities and _service (FORBIDDEN) unless the
//     request carries X-Router-Secret.
//
// None of them reads Procore: they look only at the request and at their own
// manifest or cache.
//
// # Wiring and ordering
//
// gqlgen runs every OperationParameterMutator (in the order of srv.Use), then
// parses and validates the document, then runs every OperationContextMutator
// (in the order of srv.Use). Trusted and APQ are parameter mutators and the
// order between them matters: Trusted must be Used before APQ, so that a
// manifest id is resolved before APQ would answer PersistedQueryNotFound for
// it (and so that, with Only, APQ can never register a new document):
//
//	srv := handler.New(es)
//	// ... transports, query cache, extension.Introspection{} ...
//	srv.Use(persisted.Trusted{Manifest: m, Only: onlyTrusted}) // first
//	if !onlyTrusted {                                            // APQ is moot with Only
//		srv.Use(extension.AutomaticPersistedQuery{Cache: apqCache})
//	}
//	srv.Use(persisted.IntrospectionOff{})       // context mutators: any order,
//	srv.Use(persisted.RouterOnly(routerSecret)) // best before the authorizer
//	...
//	http.Handle("/graphql", persisted.DocumentIDs(srv)) // inside the body limit
//
// IntrospectionOff and RouterOnly are context mutators, so their order
// relative to Trusted and APQ does not matter; Using them before the
// gateway's own authorizer gives their refusal (with its code) precedence.
// Both refuse before any resolver runs.
//
// IntrospectionOff deliberately leaves OperationContext.DisableIntrospection
// alone: gqlgen's federation resolver for _service also checks that flag, so
// turning it on (or not Using extension.Introspection) would break the
// router's _service query as well and, instead of a refusal with a code,
// yield a null field with an uncoded "introspection disabled" error. Keep
// extension.Introspection{} and add IntrospectionOff{} to disable
// introspection; RouterOnly then restricts _service to the router.
//
// The errors carry extensions.code but are not registered with gqlgen's
// errcode table, so the HTTP transports answer them 200 (as they do APQ's
// PersistedQueryNotFound, which clients expect); the gateway may map codes to
// statuses itself.
package persisted
