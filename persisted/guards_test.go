package persisted_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"procoregraph/persisted"
)

func TestIntrospectionOff(t *testing.T) {
	ts := newServer(t, persisted.IntrospectionOff{})
	cases := []struct {
		name      string
		rq        request
		wantField string // "" when refused
	}{
		{"__schema is refused", request{query: qSchema}, ""},
		{"__schema over GET is refused", request{get: true, query: qSchema}, ""},
		{"__type is refused", request{query: `{ __type(name: "Query") { name } }`}, ""},
		{"an aliased __schema is refused", request{query: `{ s: __schema { queryType { name } } }`}, ""},
		{"__schema in a fragment spread is refused", request{query: `query { ...F } fragment F on Query { __schema { queryType { name } } }`}, ""},
		{"__type in a nested inline fragment is refused", request{query: `query { ... on Query { ... { __type(name: "Query") { name } } } }`}, ""},
		{"a skipped __schema is refused too", request{query: `{ __typename __schema @skip(if: true) { queryType { name } } }`}, ""},
		{"__schema beside allowed fields is refused", request{query: `{ __typename __schema { queryType { name } } }`}, ""},
		{"__typename runs", request{query: `{ __typename }`}, "__typename"},
		{"_service still runs: DisableIntrospection is left alone", request{query: qService}, "_service"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts, tc.rq)
			if tc.wantField == "" {
				wantCode(t, r, "INTROSPECTION_DISABLED")
				return
			}
			if len(r.Errors) > 0 || len(r.Data[tc.wantField]) == 0 {
				t.Fatalf("want data.%s, got %+v", tc.wantField, r)
			}
		})
	}
}

func TestRouterOnly(t *testing.T) {
	const secret = "router-secret-0123456789"
	secretHeader := func(v string) http.Header { return http.Header{persisted.RouterSecretHeader: {v}} }
	cases := []struct {
		name      string
		secret    string
		rq        request
		wantField string // "" when refused
	}{
		{"_service without the header is FORBIDDEN", secret, request{query: qService}, ""},
		{"_service with a wrong secret is FORBIDDEN", secret, request{query: qService, header: secretHeader("wrong")}, ""},
		{"_service with a prefix of the secret is FORBIDDEN", secret, request{query: qService, header: secretHeader(secret[:len(secret)-1])}, ""},
		{"_service with the secret plus a byte is FORBIDDEN", secret, request{query: qService, header: secretHeader(secret + "x")}, ""},
		{"_service with an empty header is FORBIDDEN", secret, request{query: qService, header: secretHeader("")}, ""},
		{"_service with the right secret runs", secret, request{query: qService, header: secretHeader(secret)}, "_service"},
		{"_service over GET with the right secret runs", secret, request{get: true, query: qService, header: secretHeader(secret)}, "_service"},
		{"_entities without the header is FORBIDDEN", secret, request{query: qEntities}, ""},
		{"_entities with a wrong secret is FORBIDDEN", secret, request{query: qEntities, header: secretHeader("wrong")}, ""},
		{"_entities with the right secret runs", secret, request{query: qEntities, header: secretHeader(secret)}, "_entities"},
		{"an aliased _entities in a fragment without the header is FORBIDDEN", secret,
			request{query: `query { ...F } fragment F on Query { e: _entities(representations: []) { __typename } }`}, ""},
		{"_service beside __typename without the header is FORBIDDEN", secret, request{query: `{ __typename _service { sdl } }`}, ""},
		{"other fields need no header", secret, request{query: `{ __typename }`}, "__typename"},
		{"an empty configured secret refuses even an empty header", "", request{query: qService, header: secretHeader("")}, ""},
		{"an empty configured secret refuses any header", "", request{query: qService, header: secretHeader("anything")}, ""},
	}
	servers := map[string]*httptest.Server{
		secret: newServer(t, persisted.RouterOnly(secret)),
		"":     newServer(t, persisted.RouterOnly("")),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, servers[tc.secret], tc.rq)
			if tc.wantField == "" {
				wantCode(t, r, "FORBIDDEN")
				return
			}
			if len(r.Errors) > 0 || len(r.Data[tc.wantField]) == 0 {
				t.Fatalf("want data.%s, got %+v", tc.wantField, r)
			}
		})
	}
}
