package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestBadInputGetsCodedErrors: every mistake a client can make comes back as
// GraphQL errors with extensions.code, and the server keeps serving.
func TestBadInputGetsCodedErrors(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 3}})
	g := startGateway(t, env)

	cases := []struct {
		name, query string
		vars        map[string]any
		code        string
		nullData    string // a field that must be null in data, when set
	}{
		{name: "UnknownProjectIsNull", query: `{ project(id: "999999999999") { id name } }`, nullData: "project"},
		{name: "InvalidCursor", query: `{ projects(first: 1, after: "not-a-cursor") { totalCount } }`, code: "BAD_USER_INPUT"},
		{name: "FirstOutOfRange", query: `{ projects(first: -1) { totalCount } }`, code: "BAD_USER_INPUT"},
		{name: "MalformedQuery", query: `{ projects(first: 1) { totalCount `, code: "GRAPHQL_PARSE_FAILED"},
		{name: "UnknownField", query: `{ projects { nope } }`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "WrongArgumentType", query: `{ projects(first: "ten") { totalCount } }`, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "WrongVariableType", query: `query($n: Int) { projects(first: $n) { totalCount } }`, vars: map[string]any{"n": "ten"}, code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "InvalidID", query: `{ project(id: "abc") { id } }`, code: "BAD_USER_INPUT"},
		{name: "LookupInvalidID", query: `{ rfi(id: "abc", projectId: "1") { id } }`, code: "BAD_USER_INPUT"},
		{name: "LookupInvalidProjectID", query: `{ invoice(id: "1", projectId: "-5") { id } }`, code: "BAD_USER_INPUT"},
		{name: "LookupUnknownRFIIsNull", query: `{ rfi(id: "999999999999") { id } }`, nullData: "rfi"},
		{name: "InvalidIDVariable", query: `query($id: ID!) { project(id: $id) { id } }`, vars: map[string]any{"id": "-5"}, code: "BAD_USER_INPUT"},
		{name: "InvalidDate", query: `{ projects(first: 1) { nodes { dailyLogs(from: "2026-13-45") { date } } } }`, code: "BAD_USER_INPUT"},
		{name: "DateRangeReversed", query: `{ projects(first: 1) { nodes { dailyLogs(from: "2026-02-01", to: "2026-01-01") { date } } } }`, code: "BAD_USER_INPUT"},
		{name: "InvalidDateTime", query: `{ projects(first: 1, filter: {updatedSince: "yesterday"}) { totalCount } }`, code: "BAD_USER_INPUT"},
		{name: "OtherCompanyForbidden", query: `{ projects(companyId: "1") { totalCount } }`, code: "FORBIDDEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := g.query(t, tc.query, tc.vars)
			if tc.nullData != "" {
				if len(r.Errors) > 0 {
					t.Fatalf("want no errors, got %+v", r.Errors)
				}
				var m map[string]any
				_ = json.Unmarshal(r.Data, &m)
				if v, ok := m[tc.nullData]; !ok || v != nil {
					t.Fatalf("want data.%s null, got %s", tc.nullData, r.Data)
				}
				return
			}
			if len(r.Errors) == 0 {
				t.Fatalf("want an error with code %s, got data %s", tc.code, r.Data)
			}
			if got := r.Errors[0].Extensions["code"]; got != tc.code {
				t.Fatalf("code = %v, want %s (message %q)", got, tc.code, r.Errors[0].Message)
			}
		})
	}

	t.Run("NonJSONBody", func(t *testing.T) {
		resp, err := http.Post(g.URL+"/graphql", "application/json", strings.NewReader("{not json"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 || !bytes.Contains(b, []byte(`"errors"`)) {
			t.Fatalf("status %d body %s", resp.StatusCode, b)
		}
	})
	t.Run("StillServesAfterwards", func(t *testing.T) {
		r := g.query(t, `{ projects(first: 1) { totalCount } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
	})
}
